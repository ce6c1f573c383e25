import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { StackLock } from "../../src/provisioning/stack-lock.js";

/**
 * Stack locks exactly as Pulumi's DIY backend keeps them (pulumi/pulumi `pkg/backend/diy/lock.go`): one
 * JSON file per lock holder, `{"pid","username","hostname","timestamp"}` of the `pulumi` process, at
 * `.pulumi/locks/<org>/<project>/<stack>/<lock id>.json` (project-scoped backends use the org
 * "organization"), and `checkForLock`'s refusal message built from them. For the engine doubles.
 */
const PROJECT = "openstack-tenants";

export function lockDir(backendDir: string, stack: string): string {
  return join(backendDir, ".pulumi", "locks", "organization", PROJECT, stack);
}

/** Writes a lock file as `Lock()` does (Go's time.Time marshals as RFC 3339 with nanoseconds). */
export function writeLock(backendDir: string, stack: string, lock: { pid: number; hostname: string; username?: string; timestamp?: string }): string {
  const dir = lockDir(backendDir, stack);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify({ pid: lock.pid, username: lock.username ?? "tenants", hostname: lock.hostname, timestamp: lock.timestamp ?? new Date().toISOString() }));
  return file;
}

export function readLocks(backendDir: string, stack: string): Array<Omit<StackLock, "url"> & { file: string }> {
  let files: string[];
  try {
    files = readdirSync(lockDir(backendDir, stack)).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  return files.map((f) => {
    const file = join(lockDir(backendDir, stack), f);
    const l = JSON.parse(readFileSync(file, "utf8")) as { pid: number; username: string; hostname: string; timestamp: string };
    return { file, pid: l.pid, username: l.username, hostname: l.hostname, timestamp: l.timestamp };
  });
}

/** checkForLock's error, or null when the stack is free. */
export function lockedMessage(backendDir: string, stack: string, except?: string): string | null {
  const locks = readLocks(backendDir, stack).filter((l) => l.file !== except);
  if (locks.length === 0) return null;
  const lines = locks.map((l) => `\n  file://${l.file}: created by ${l.username}@${l.hostname} (pid ${l.pid}) at ${l.timestamp.replace(/\.\d+Z$/, "Z")}`);
  return `the stack is currently locked by ${locks.length} lock(s). Either wait for the other process(es) to end or delete the lock file with \`pulumi cancel\`.${lines.join("")}`;
}

/** The engine's breakLocks on a file:// backend: exactly the named lock files, if still there. */
export function removeNamedLocks(locks: Array<Pick<StackLock, "url">>): void {
  for (const l of locks) if (l.url.startsWith("file://")) rmSync(fileURLToPath(l.url), { force: true });
}

/**
 * Where the crash tests' stand-ins note that a run was refused by a lock (a test-only marker beside the
 * backend's `.pulumi`, not something Pulumi writes): a surviving run waits for it, so the restarted
 * service is refused at least once before the survivor finishes, whatever the machine's speed.
 */
export function refusedMarker(backendDir: string, stack: string): string {
  return join(backendDir, `${stack}.refused-by-lock`);
}
export function noteRefused(backendDir: string, stack: string): void {
  writeFileSync(refusedMarker(backendDir, stack), "");
}
