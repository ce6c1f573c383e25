import { describe, expect, it } from "vitest";
import { isOrphaned, lockFileOf, locksOf } from "../../../src/provisioning/stack-lock.js";

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
