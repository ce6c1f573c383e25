import { hostname } from "node:os";

/**
 * Who holds a stack's lock, as Pulumi's DIY backend (file://, S3, …) records it. `pkg/backend/diy/lock.go`
 * writes `{pid, username, hostname, timestamp}` of the **`pulumi` process itself** (os.Getpid() of the CLI,
 * not of the program that started it) to `.pulumi/locks/<org>/<project>/<stack>/<lock id>.json`, and a
 * second update refuses with `checkForLock`'s message, one line per lock:
 *   "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the
 *    lock file with `pulumi cancel`.\n  <url of the lock file>: created by <user>@<host> (pid <pid>) at <RFC 3339>"
 */
export interface StackLock {
  username: string;
  hostname: string;
  pid: number;
  /** RFC 3339, as the message prints it. */
  timestamp: string;
}

const LOCK_LINE = /: created by ([^@\s]*)@(\S+) \(pid (\d+)\) at (\S+)/g;

/** Every lock named in Pulumi's "currently locked" message (empty if the message is another error). */
export function locksOf(message: string): StackLock[] {
  return [...message.matchAll(LOCK_LINE)].map((m) => ({ username: m[1] ?? "", hostname: m[2] ?? "", pid: Number(m[3]), timestamp: m[4] ?? "" }));
}

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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
