import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { E2eService, requireRealEngine, testcloud } from "../support/e2e-service.js";
import { event, PREPAID } from "../support/events.js";
import { adminCredentials } from "../support/testcloud.js";

/**
 * Targets through the real engine: the service (a child process) with TARGETS_FILE naming RegionOne and
 * RegionTwo of the test cloud (scripts/testcloud.sh region-two), the real `pulumi` CLI and the OpenStack
 * provider plugin from scripts/pulumi-toolchain.sh. A purchase in `two` must set its quota sets in
 * RegionTwo's Nova only. Like the rest of the e2e suite it never skips where Go is installed.
 */
const QuotaSet = z.object({ quota_set: z.object({ cores: z.number(), ram: z.number() }).passthrough() });
const svc = new E2eService();

describe("a purchase in a second region through the real engine", () => {
  beforeAll(async () => {
    requireRealEngine();
    const r = spawnSync("bash", ["scripts/testcloud.sh", "region-two"], { encoding: "utf8", env: { ...process.env, TESTCLOUD_DIR: testcloud.TESTCLOUD_DIR }, timeout: 600_000 });
    if (r.status !== 0) throw new Error(`testcloud.sh region-two failed: ${r.stderr}`);
    writeFileSync(join(svc.root, "targets.yaml"), "targets:\n  - name: one\n  - name: two\n    region: RegionTwo\n");
    await svc.start({ TARGETS_FILE: join(svc.root, "targets.yaml") });
  }, 900_000);
  afterAll(() => svc.close());

  it("lands its quota sets in RegionTwo's Nova, not RegionOne's, and records RegionTwo", async () => {
    const id = `rt${Date.now().toString(36)}`;
    const plan = { ...PREPAID, cores: 3, ramGb: 5, diskGb: 20, target: "two" };
    expect((await svc.send(event(id, "subscription.created", { plan }))).status).toBe(202);
    const sub = await svc.settle(id);
    expect((sub.outputs as { region?: string } | null)?.region).toBe("RegionTwo");
    const quota = async (region: string) => (await new CloudClient({ ...adminCredentials(), regionName: region }).request("compute", "GET", `/os-quota-sets/${sub.outputs?.projectId}`, QuotaSet))?.quota_set;
    expect(await quota("RegionTwo")).toMatchObject({ cores: 3, ram: 5120 });
    expect((await quota("RegionOne"))?.cores).not.toBe(3);

    // Cancelled: destroyed, the project purged in RegionTwo.
    expect((await svc.send(event(id, "subscription.cancelled", { plan }))).status).toBe(202);
    await svc.settle(id, "cancelled");
  }, 900_000);
});
