import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { z } from "zod";

/**
 * PGlite's initdb leaves the process's WebAssembly memory at its peak, and that memory is never given
 * back: a service whose first start created its database stayed at ~930 MiB resident, where one opening
 * an existing directory settles at ~530 MiB (bench/footprint.ts, @electric-sql/pglite 0.5.16). So a new
 * directory is initialised by a short-lived child process (pglite-init-child.ts), whose memory goes with
 * it, and the service then opens it as on any restart. The child also runs the migrations: creating the
 * tables and pg-boss's schema in the service kept ~45 MiB more resident at a first start than at a
 * restart (bench/scale.ts: 337-352 against 294-301 MiB).
 */
export const isInitialised = (dir: string): boolean => existsSync(join(dir, "PG_VERSION"));

const here = fileURLToPath(import.meta.url);
/** pglite-init-child.ts next to this file (or .js once compiled: then plain node runs it, no loader). */
const CHILD = join(dirname(here), `pglite-init-child${extname(here)}`);

const ChildReport = z.object({ pid: z.number(), maxRssKb: z.number() });

/**
 * Creates the database in `dir` (which must not hold one yet) in a child process, migrated (the service's
 * tables and pg-boss's schema); its pid and peak memory.
 */
export async function initialiseInChild(dir: string): Promise<{ pid: number; maxRssKb: number }> {
  // tsx's ES module hooks as the service runs (bin/tenantctl.js), not the parent's whole execArgv (a test
  // runner's or --inspect flags are not the child's business); as engine-host.ts does.
  const loader = extname(CHILD) === ".ts" ? ["--import", import.meta.resolve("tsx/esm")] : [];
  const { stdout } = await promisify(execFile)(process.execPath, [...loader, CHILD, dir], { maxBuffer: 1 << 20 });
  if (!isInitialised(dir)) throw new Error(`initialising the embedded database in ${dir} left no PG_VERSION`);
  return ChildReport.parse(JSON.parse(stdout));
}
