import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { isOrphaned, lockFileOf, locksOf, processAlive } from "../../../src/provisioning/stack-lock.js";

/**
 * checkForLock's refusal as pkg/backend/diy/lock.go v3.248.0 prints it: "\n  %v: created by %v@%v (pid %v) at %v"
 * with lockURLForError (the backend URL, `?no_tmp_dir=true` on a file backend, as the real CLI printed it in
 * test/e2e/real-cli.test.ts), user.Current().Username, os.Hostname(), the pulumi process's pid, RFC 3339.
 */
const url = "file:///var/lib/tenants/pulumi/.pulumi/locks/organization/openstack-tenants/sub-42/1f0c.json?no_tmp_dir=true";
const refusal = (user: string, host = "node-1", pid = 4242) =>
  `error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with \`pulumi cancel\`.\n  ${url}: created by ${user}@${host} (pid ${pid}) at 2026-12-02T20:56:29Z`;

describe("a stack lock named in Pulumi's refusal", () => {
  it("a directory user's name with an @ keeps it, and the host is what follows the last @", () => {
    expect(locksOf(refusal("jane@corp.example"))).toEqual([{ url, username: "jane@corp.example", hostname: "node-1", pid: 4242, timestamp: "2026-12-02T20:56:29Z" }]);
    // So the orphan of such a user is recognised: its host is this one and its pid is gone.
    const [lock] = locksOf(refusal("svc-tenants@CORP.EXAMPLE"));
    expect(isOrphaned(lock!, { hostname: "node-1", alive: () => false })).toBe(true);
  });

  it("each lock once, though the automation SDK's error repeats the CLI's output (stdout and stderr)", () => {
    const twice = ` stdout: ${refusal("root")}\n stderr: ${refusal("root")}\n`;
    expect(locksOf(twice)).toHaveLength(1);
  });

  it("a lock file of the file backend is a path under that backend's lock directory; any other URL is none", () => {
    expect(lockFileOf({ url }, "file:///var/lib/tenants/pulumi")).toBe("/var/lib/tenants/pulumi/.pulumi/locks/organization/openstack-tenants/sub-42/1f0c.json");
    expect(lockFileOf({ url }, "file:///var/lib/other")).toBeNull();
    expect(lockFileOf({ url: "s3://bucket/.pulumi/locks/organization/openstack-tenants/sub-42/1f0c.json" }, "s3://bucket")).toBeNull();
    expect(lockFileOf({ url: "file:///var/lib/tenants/pulumi/.pulumi/locks/../../../etc/passwd.json" }, "file:///var/lib/tenants/pulumi")).toBeNull();
  });
});

describe("whether a lock's pulumi process still runs", () => {
  it("a process that ended but was not reaped (a zombie, as a killed service's pulumi child can be) is gone, though kill(pid, 0) still succeeds", async () => {
    // A parent that forks, lets the child exit and never waits: the child stays a zombie for as long as the parent
    // sleeps. (A shell cannot be trusted with this: bash reaps a background job on SIGCHLD before it execs.)
    const program = "import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)";
    const parent = spawn("python3", ["-c", program], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout.once("data", (d: Buffer) => r(d.toString()))));
      for (let i = 0; i < 100 && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8")); i++) await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(`/proc/${pid}/stat`, "utf8")).toMatch(/\) Z /);
      expect(() => process.kill(pid, 0)).not.toThrow();
      expect(processAlive(pid)).toBe(false);
      expect(isOrphaned({ url, username: "svc", hostname: hostname(), pid, timestamp: "2026-12-02T20:56:29Z" })).toBe(true);
    } finally {
      parent.kill();
    }
  });

  it("a running process is alive, and its lock is not orphaned", () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(isOrphaned({ url, username: "svc", hostname: hostname(), pid: process.pid, timestamp: "2026-12-02T20:56:29Z" })).toBe(false);
  });
});
