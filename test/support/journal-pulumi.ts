/**
 * The journal engine's stand-in for one `pulumi up`/`destroy` run, as a process of its own: like the real
 * CLI it locks the stack with a lock file naming *its own* pid and host (pulumi/pulumi diy/lock.go), is
 * refused with checkForLock's message when another lock exists, and outlives a `kill -9` of the service
 * that started it. Arguments: journal file, backend dir, stack, op (up|destroy), then JSON of
 * { spec?, password?, message, mode } on stdin. `mode`:
 *   normal   lock, apply, unlock
 *   survive  lock, say "locked" (the service is killed meanwhile), wait until the restarted service has been
 *            refused by this lock (at most 20 s), apply, unlock: the restarted service's retry then finds
 *            the stack updated by a run it never heard from
 *   die      lock, say "locked"; on a create, Keystone gets the project and user and the state only pending
 *            creates; then die with the lock left behind (as when the machine kills both processes)
 * Prints "locked" when its lock is written and the summary JSON when done.
 */
import { hostname, userInfo } from "node:os";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { emptyStack, readJournal, writeJournal } from "./journal-cloud.js";
import { lockedMessage, noteRefused, refusedMarker, writeLock } from "./pulumi-locks.js";

const [journalFile, backendDir, stack, op] = process.argv.slice(2) as [string, string, string, "up" | "destroy"];
const input = JSON.parse(readFileSync(0, "utf8")) as { spec?: { projectName: string }; password?: string; message: string; mode: "normal" | "survive" | "die" };

const locked = lockedMessage(backendDir, stack);
if (locked) {
  noteRefused(backendDir, stack);
  process.stderr.write(`error: ${locked}\n`);
  process.exit(255);
}
const lockFile = writeLock(backendDir, stack, { pid: process.pid, hostname: hostname(), username: userInfo().username });
process.stdout.write("locked\n");
if (input.mode === "survive") {
  for (let waited = 0; waited < 20_000 && !existsSync(refusedMarker(backendDir, stack)); waited += 50) await new Promise((r) => setTimeout(r, 50));
}

const journal = readJournal(journalFile);
journal.stacks[stack] ??= emptyStack();
const s = journal.stacks[stack];
const now = new Date().toISOString();
const fail = (text: string): never => {
  s.history.push({ version: s.history.length + 1, kind: op === "up" ? "update" : op, message: input.message, result: "failed", startTime: now, endTime: now, resourceChanges: {} });
  writeJournal(journalFile, journal);
  rmSync(lockFile, { force: true });
  process.stderr.write(text);
  process.exit(255);
};

let changes: Record<string, number>;
if (op === "up") {
  const spec = input.spec as NonNullable<typeof input.spec>;
  if (s.pendingCreates.length > 0 || (!s.projectId && journal.keystone[spec.projectName])) {
    fail(`error: 1 error occurred:\n\t* creating urn:pulumi:${stack}::openstack-tenants::openstack:identity/project:Project::project: 1 error occurred:\n\t* Error creating OpenStack project: Expected HTTP response code [201] when accessing [POST /v3/projects], but got 409 instead: {"error":{"code":409,"message":"Conflict occurred attempting to store project - Duplicate entry.","title":"Conflict"}}\n`);
  }
  if (!s.projectId) {
    const made = { projectId: `project-${process.pid}`, userId: `user-${process.pid}` };
    journal.keystone[spec.projectName] = made;
    if (input.mode === "die") {
      s.pendingCreates = ["project", "user"];
      writeJournal(journalFile, journal);
      process.kill(process.pid, "SIGKILL");
    }
    s.projectId = made.projectId;
    s.userId = made.userId;
  }
  if (input.mode === "die") process.kill(process.pid, "SIGKILL");
  const before = JSON.stringify([s.spec, s.password, s.deployed]);
  s.spec = spec as never;
  s.password = input.password ?? null;
  s.deployed = true;
  const changed = before !== JSON.stringify([s.spec, s.password, s.deployed]);
  if (changed) s.effectiveChanges++;
  changes = changed ? { update: 1 } : { same: 6 };
} else {
  if (input.mode === "die") process.kill(process.pid, "SIGKILL");
  const had = s.deployed;
  if (s.spec) delete journal.keystone[(s.spec as { projectName: string }).projectName];
  s.deployed = false;
  s.projectId = null;
  s.userId = null;
  if (had) s.effectiveChanges++;
  changes = had ? { delete: 6 } : {};
}
s.history.push({ version: s.history.length + 1, kind: op === "up" ? "update" : op, message: input.message, result: "succeeded", startTime: now, endTime: new Date().toISOString(), resourceChanges: changes });
writeJournal(journalFile, journal);
rmSync(lockFile, { force: true });
process.stdout.write(`${JSON.stringify(changes)}\n`);
