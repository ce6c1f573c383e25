/**
 * The short-lived process that creates the embedded database (pglite-init.ts starts it): PGlite's initdb,
 * then the service's migrations and pg-boss's schema, so that the service's first start opens a database
 * as ready as on any restart. All three leave this process's memory at their peak (PGlite's WebAssembly
 * memory never shrinks): here it goes when the process ends. Prints its pid and peak memory as JSON.
 */
import { openPglite } from "./db.js";
import { JobQueue } from "./job-queue.js";
import { migrate } from "./migrations.js";

const dir = process.argv[2];
if (!dir) throw new Error("usage: pglite-init-child <directory>");
const db = await openPglite({ dir, create: true });
await migrate(db);
await JobQueue.installSchema(db);
await db.close();
process.stdout.write(JSON.stringify({ pid: process.pid, maxRssKb: process.resourceUsage().maxRSS }));
