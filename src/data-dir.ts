import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, type Stats } from "node:fs";
import { join } from "node:path";
import { isMainThread } from "node:worker_threads";
import { z } from "zod";

/**
 * The data directory holds the embedded database (customers' details, event bodies), the file Pulumi
 * backend and the generated secrets: it is the service user's alone (directories 0700, files 0600).
 * But only what the service made is its to close: DATA_DIR=/tmp once took /tmp's sticky bit and every
 * other program's permissions away (issue 25). So the directory must be one the service created or
 * marked, and inside it only the entries below are ever changed.
 */

/** What the service itself writes at the top of its data directory, and nothing else. */
export const DATA_DIR_ENTRIES = {
  database: "pglite",
  backend: "pulumi",
  passphrase: "pulumi-passphrase",
  operatorToken: "operator-token",
  customerTokenKey: "customer-token-key",
} as const;

/** Written at the first start: from then on the directory is the service's. */
export const DATA_DIR_MARKER = ".openstack-tenants";
const Marker = z.object({ service: z.literal("openstack-tenants") });

const DIRECTORY_ENTRIES: ReadonlySet<string> = new Set([DATA_DIR_ENTRIES.database, DATA_DIR_ENTRIES.backend]);
const OWN_ENTRIES: ReadonlySet<string> = new Set([...Object.values(DATA_DIR_ENTRIES), DATA_DIR_MARKER]);

/**
 * How a start found its data directory: made by it, empty, already marked, or an earlier version's
 * (the service's entries and nothing else, no marker yet: marked now). Refused: why, in one line.
 */
export type DataDirClaim = { ok: true; found: "created" | "empty" | "marked" | "adopted" } | { ok: false; reason: string };

/**
 * Makes `path` the service's data directory if it may be: a new directory, an empty one, one already
 * marked, or an earlier version's. A shared directory (another user's, world-writable or sticky) or one
 * holding anything else is refused, and nothing in it is changed.
 */
export function claimDataDir(path: string): DataDirClaim {
  const st = statIfAny(path);
  if (!st) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    mark(path);
    return { ok: true, found: "created" };
  }
  if (!st.isDirectory()) return refused(path, "is not a directory");
  const shared = sharedBecause(st);
  if (shared) return refused(path, shared);
  const marker = markerOf(path);
  if (marker === "ours") return { ok: true, found: "marked" };
  if (marker === "foreign") return refused(path, `holds a ${DATA_DIR_MARKER} file this service did not write`);
  const entries = readdirSync(path);
  const foreign = entries.filter((name) => !isEarlierVersionEntry(path, name));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? `, and ${foreign.length - 3} more` : "");
    return refused(path, `is not empty and not this service's (it holds ${shown})`);
  }
  mark(path);
  return { ok: true, found: entries.length === 0 ? "empty" : "adopted" };
}

/**
 * Closes the data directory and the service's own entries in it to the owner (0700 / 0600), whatever
 * else an operator keeps beside them. Call it on a claimed directory only.
 */
export function closeOwnEntries(dir: string): void {
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  for (const name of OWN_ENTRIES) {
    const path = join(dir, name);
    const st = lstatIfAny(path);
    if (!st || st.isSymbolicLink()) continue;
    if ((st.mode & 0o077) !== 0) chmodSync(path, st.mode & 0o700);
    if (st.isDirectory()) restrictToOwner(path);
  }
}

/**
 * From now on, what this process creates (and the pulumi CLI it runs, which inherits the mask) is the
 * owner's alone. Worker threads cannot change the process's mask (Node throws): there it is left as is.
 */
export function restrictNewFilesToOwner(): void {
  if (isMainThread) process.umask(0o077);
}

/** Creates one of the service's own directories 0700, or closes it if it is open to others. */
export function ensurePrivateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if ((lstatSync(path).mode & 0o077) !== 0) chmodSync(path, 0o700);
  return path;
}

/**
 * Takes group and other permissions off everything under `dir`, one of the service's own directories
 * (symbolic links are not followed). PGlite writes the files of a new database 0666 whatever the umask
 * (its file layer sets modes itself; measured with @electric-sql/pglite 0.5.16); the files PostgreSQL
 * creates afterwards are 0600. Only entries open to others are changed, so a second run is a walk of
 * lstat calls.
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

function refused(path: string, why: string): DataDirClaim {
  return { ok: false, reason: `DATA_DIR ${path} ${why}: the service changes nothing in it; point DATA_DIR at a new or empty directory of its own` };
}

const ownUid = (): number | undefined => (typeof process.getuid === "function" ? process.getuid() : undefined);

/** Why others may write into the directory, so that it cannot be the service's alone; null if none may. */
function sharedBecause(st: Stats): string | null {
  const uid = ownUid();
  const mode = (st.mode & 0o7777).toString(8);
  if (uid !== undefined && st.uid !== uid) return `belongs to uid ${st.uid}, not to the service's user (${uid})`;
  if ((st.mode & 0o1000) !== 0) return `is shared (sticky, mode ${mode}, like /tmp)`;
  if ((st.mode & 0o002) !== 0) return `is writable by every user (mode ${mode})`;
  return null;
}

function markerOf(dir: string): "ours" | "absent" | "foreign" {
  const path = join(dir, DATA_DIR_MARKER);
  const st = lstatIfAny(path);
  if (!st) return "absent";
  const uid = ownUid();
  if (!st.isFile() || (uid !== undefined && st.uid !== uid)) return "foreign";
  try {
    return Marker.safeParse(JSON.parse(readFileSync(path, "utf8"))).success ? "ours" : "foreign";
  } catch {
    return "foreign"; // not JSON: not the file mark() writes
  }
}

function mark(dir: string): void {
  // "wx": never over a file that appeared meanwhile.
  writeFileSync(join(dir, DATA_DIR_MARKER), `${JSON.stringify({ service: "openstack-tenants" })}\n`, { mode: 0o600, flag: "wx" });
}

/** One of the entries an earlier version (which wrote no marker) left: the service's name and kind, its user's. */
function isEarlierVersionEntry(dir: string, name: string): boolean {
  if (!OWN_ENTRIES.has(name) || name === DATA_DIR_MARKER) return false;
  const st = lstatSync(join(dir, name));
  const uid = ownUid();
  if (uid !== undefined && st.uid !== uid) return false;
  return DIRECTORY_ENTRIES.has(name) ? st.isDirectory() : st.isFile();
}

const statIfAny = (path: string): Stats | undefined => statSync(path, { throwIfNoEntry: false });
const lstatIfAny = (path: string): Stats | undefined => lstatSync(path, { throwIfNoEntry: false });
