import { readFileSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { z } from "zod";
import { conciseError } from "./failure-classification.js";
import { fileBackendRoot } from "./stack-file.js";

/**
 * Who holds a stack's lock, as Pulumi's DIY backend (file://, S3, …) records it. `pkg/backend/diy/lock.go`
 * writes `{pid, username, hostname, timestamp}` of the **`pulumi` process itself** (os.Getpid() of the CLI,
 * not of the program that started it) to `.pulumi/locks/<org>/<project>/<stack>/<lock id>.json`, and a
 * second update refuses with `checkForLock`'s message, one line per lock:
 *   "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the
 *    lock file with `pulumi cancel`.\n  <url of the lock file>: created by <user>@<host> (pid <pid>) at <RFC 3339>"
 * (`lockURLForError`: the backend URL with the lock's key joined to its path, credentials masked).
 */
export interface StackLock {
  /**
   * The lock file's URL as the message prints it: the backend URL with the lock's key joined to its path,
   * e.g. file:///var/lib/tenants/pulumi/.pulumi/locks/organization/openstack-tenants/sub-42/<id>.json?no_tmp_dir=true
   * (the file backend's query: pkg/backend/diy/backend.go opens file:// buckets with no_tmp_dir).
   */
  url: string;
  username: string;
  hostname: string;
  pid: number;
  /** RFC 3339, as the message prints it. */
  timestamp: string;
}

/**
 * One lock line. The user name is `user.Current().Username`, which holds an `@` for directory users
 * (`jane@corp.example` under SSSD or winbind); a host name never does, so the host is what follows the
 * **last** `@` before ` (pid`.
 */
const LOCK_LINE = /^\s*(\S+): created by (.*)@([^@\s]+) \(pid (\d+)\) at (\S+)\s*$/gm;

/**
 * Every lock named in Pulumi's "currently locked" message (empty if the message is another error), once:
 * the automation SDK's error carries the CLI's output twice (stdout and stderr), so each line comes twice.
 */
export function locksOf(message: string): StackLock[] {
  const byUrl = new Map<string, StackLock>();
  for (const m of message.matchAll(LOCK_LINE)) {
    const url = m[1] ?? "";
    if (!byUrl.has(url)) byUrl.set(url, { url, username: m[2] ?? "", hostname: m[3] ?? "", pid: Number(m[4]), timestamp: m[5] ?? "" });
  }
  return [...byUrl.values()];
}

/** The lock lines of a "currently locked" error, whatever the CLI printed around them. */
export function conciseLockMessage(raw: string): string {
  const lines = raw.split("\n").filter((l) => /currently locked|created by .*\(pid \d+\)/.test(l));
  return lines.length > 0 ? lines.join("\n") : conciseError(raw);
}

/**
 * The local path of a lock file of a `file://` backend rooted at `backendUrl`, or null (another backend,
 * or a URL outside that backend's lock directory: never a file the caller could be tricked into deleting).
 */
export function lockFileOf(lock: Pick<StackLock, "url">, backendUrl: string): string | null {
  const file = fileBackendRoot(lock.url);
  const root = fileBackendRoot(backendUrl);
  if (!file || !root) return null;
  return file.startsWith(`${root}/.pulumi/locks/`) && file.endsWith(".json") && !file.includes("/../") ? file : null;
}

/** Deletes a lock file if it still names the owner read from the refusal (another lock may reuse nothing of it). */
export function removeLockFile(file: string, lock: StackLock): void {
  let held: unknown;
  try {
    held = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // already gone: someone else broke it
    throw e;
  }
  const owner = LockContent.safeParse(held);
  if (owner.success && owner.data.pid === lock.pid && owner.data.hostname === lock.hostname) {
    try {
      unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}
/** lock.go's lockContent, the fields that say whose it is. */
const LockContent = z.object({ pid: z.number(), hostname: z.string() });

export interface Here {
  hostname: string;
  alive: (pid: number) => boolean;
}

export const THIS_HOST: Here = { hostname: hostname(), alive: processAlive };

/**
 * A lock may be broken only when its owner is provably dead: the `pulumi` process that wrote it ran on this
 * host and its pid is gone. A lock from another host is never broken here (its process cannot be checked,
 * and it may be another replica's live update or an operator's shell); neither is one whose pid is alive,
 * whoever it belongs to: after a `kill -9` of the service its `pulumi` child keeps running and finishes.
 * A pid reused by an unrelated process reads as alive: the safe side.
 */
export function isOrphaned(lock: StackLock, here: Here = THIS_HOST): boolean {
  return lock.hostname === here.hostname && !here.alive(lock.pid);
}

/**
 * Whether `pid` runs. A process that ended but was not yet reaped (a zombie) is gone: `kill(pid, 0)` still
 * succeeds on it, and after a `kill -9` of the service its `pulumi` child is reparented to whatever PID 1
 * is, which may reap late (a container's init, a supervisor): the lock it left would wait for that.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

/** Linux's /proc/<pid>/stat: the state follows the command's closing parenthesis (Z zombie, X dead). */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false; // no /proc (another OS) or the process just went: kill said it existed, keep that answer
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state === "Z" || state === "X";
}
