import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { z } from "zod";

/**
 * PGlite's initdb leaves the process's WebAssembly memory at its peak, and that memory is never given
 * back: a service whose first start created its database stayed at ~930 MiB resident, where one opening
 * an existing directory settles at ~530 MiB (bench/footprint.ts, @electric-sql/pglite 0.5.16). So a new
 * directory is initialised by a short-lived child process, whose memory goes with it, and the service
 * then opens it as on any restart.
 */
export const isInitialised = (dir: string): boolean => existsSync(join(dir, "PG_VERSION"));

// Plain JavaScript run by `node -e`: no loader (tsx) needed in the child, whatever runs the parent.
// PGlite resumes a directory that has PG_VERSION and runs initdb in one that has not.
const CHILD = `
const [, pgliteUrl, dir] = process.argv;
const { PGlite } = await import(pgliteUrl);
const db = new PGlite(dir);
await db.waitReady;
await db.close();
process.stdout.write(JSON.stringify({ pid: process.pid, maxRssKb: process.resourceUsage().maxRSS }));
`;

const ChildReport = z.object({ pid: z.number(), maxRssKb: z.number() });

/** Creates the database in `dir` (which must not hold one yet) in a child process; its pid and peak memory. */
export async function initialiseInChild(dir: string): Promise<{ pid: number; maxRssKb: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--input-type=module", "-e", CHILD, "--", import.meta.resolve("@electric-sql/pglite"), dir],
    { maxBuffer: 1 << 20 },
  );
  if (!isInitialised(dir)) throw new Error(`initialising the embedded database in ${dir} left no PG_VERSION`);
  return ChildReport.parse(JSON.parse(stdout));
}
