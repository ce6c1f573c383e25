import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isMainThread } from "node:worker_threads";

/**
 * The data directory holds the embedded database (customers' details, event bodies), the file Pulumi
 * backend and the generated secrets: it is the service user's alone (directories 0700, files 0600).
 */

/**
 * From now on, what this process creates (and the pulumi CLI it runs, which inherits the mask) is the
 * owner's alone. Worker threads cannot change the process's mask (Node throws): there it is left as is.
 */
export function restrictNewFilesToOwner(): void {
  if (isMainThread) process.umask(0o077);
}

/** Creates the directory 0700, or closes an existing one that is open to others. */
export function ensurePrivateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if ((lstatSync(path).mode & 0o077) !== 0) chmodSync(path, 0o700);
  return path;
}

/**
 * Takes group and other permissions off everything under `dir` (symbolic links are not followed).
 * PGlite writes the files of a new database 0666 whatever the umask (its file layer sets modes itself;
 * measured with @electric-sql/pglite 0.5.16); the files PostgreSQL creates afterwards are 0600. Only
 * entries open to others are changed, so a second run is a walk of lstat calls.
 */
export function restrictToOwner(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink()) continue;
    if ((st.mode & 0o077) !== 0) chmodSync(path, st.mode & 0o700);
    if (st.isDirectory()) restrictToOwner(path);
  }
}
