import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SubscriptionRecord } from "../../../src/domain/lifecycle.js";
import { CloudClient } from "../../../src/openstack/cloud-client.js";
import { observeTenant } from "../../../src/openstack/tenant-observation.js";
import { foldEvent, type DesiredState } from "../../../src/domain/subscription.js";
import { tenantSpecOf } from "../../../src/domain/tenant-spec.js";
import { event } from "../../support/events.js";
import { FailingOpenStack } from "../../support/failing-openstack.js";
import { harness } from "../../support/harness.js";
import { SETTINGS } from "../../support/settings.js";

const QUOTA_RAISED = [{ resource: "compute-quota", type: "openstack:compute/quotaSetV2:QuotaSetV2", change: "update", properties: ["cores"] }];

/**
 * The detector's look at the cloud, as src/provisioning/drift-precheck.ts answers it: what the test says
 * the cloud shows per subscription (in sync unless told otherwise). What it reads of the real cloud is
 * tested in test/integration/drift-observation.test.ts.
 */
function cloudLook() {
  const shown = new Map<string, "in_sync" | "differs" | "unknown" | "throws">();
  const looked: string[] = [];
  const observe = async (sub: SubscriptionRecord) => {
    looked.push(sub.id);
    const answer = shown.get(sub.id) ?? "in_sync";
    if (answer === "throws") throw new Error("a bug in the look");
    return answer;
  };
  return { shown, looked, observe };
}

async function ready(ids: string[], look: ReturnType<typeof cloudLook>) {
  const h = await harness({ driftObserve: look.observe });
  for (const id of ids) await h.send(event(id, "subscription.created"));
  await h.reconciler.idle();
  return h;
}
const engineDrifts = (h: Awaited<ReturnType<typeof harness>>) => h.engine.calls.filter((c) => c.op === "drift").map((c) => c.stack);

describe("drift sweeps that look at the cloud first", () => {
  it("a sweep of in-sync stacks records every one in sync and makes no engine call; one that differs costs exactly one refresh preview", async () => {
    const look = cloudLook();
    const ids = Array.from({ length: 25 }, (_, i) => `p${i}`);
    const h = await ready(ids, look);
    const sweep = (await (await h.asOperator("/v1/drift/checks", { method: "POST" })).json()) as { results: Array<{ subscription: string; state?: string }> };
    expect(sweep.results).toHaveLength(25);
    expect(sweep.results.every((r) => r.state === "in_sync")).toBe(true);
    expect(engineDrifts(h)).toEqual([]);
    expect(look.looked.sort()).toEqual([...ids].sort());
    expect(((await (await h.asOperator("/v1/drift?state=in_sync")).json()) as { drift: unknown[] }).drift).toHaveLength(25);

    // A quota raised by hand on one tenant: the look says it differs, the engine names the difference.
    h.engine.driftOutside("sub-p7", QUOTA_RAISED);
    look.shown.set("p7", "differs");
    const again = (await (await h.asOperator("/v1/drift/checks", { method: "POST" })).json()) as { results: Array<{ subscription: string; state?: string }> };
    expect(engineDrifts(h)).toEqual(["sub-p7"]);
    expect(again.results.filter((r) => r.state === "drifted").map((r) => r.subscription)).toEqual(["p7"]);
    expect((await h.driftStore.get("p7"))?.differences).toEqual(QUOTA_RAISED);
  });

  it("a cloud that cannot be read (unknown) or a look that fails goes to the engine, which has the last word", async () => {
    const look = cloudLook();
    const h = await ready(["u1", "u2", "u3", "u4"], look);
    look.shown.set("u1", "unknown");
    look.shown.set("u3", "throws");
    // The look differs but the engine finds nothing (a stack applied under older settings): in sync.
    look.shown.set("u2", "differs");
    const results = (await (await h.asOperator("/v1/drift/checks", { method: "POST" })).json()) as { results: Array<{ subscription: string; state?: string }> };
    expect(engineDrifts(h).sort()).toEqual(["sub-u1", "sub-u2", "sub-u3"]);
    expect(results.results.map((r) => [r.subscription, r.state])).toEqual([["u1", "in_sync"], ["u2", "in_sync"], ["u3", "in_sync"], ["u4", "in_sync"]]);
  });

  it("a repair's recheck is a look too: once the cloud shows the declaration again the finding clears without another preview", async () => {
    const look = cloudLook();
    const h = await ready(["r1"], look);
    h.engine.driftOutside("sub-r1", QUOTA_RAISED);
    look.shown.set("r1", "differs");
    await h.asOperator("/v1/subscriptions/r1/drift/check", { method: "POST" });
    expect((await h.driftStore.get("r1"))?.state).toBe("drifted");
    look.shown.delete("r1"); // the repair put the quota back
    expect((await h.asOperator("/v1/subscriptions/r1/drift/repair", { method: "POST" })).status).toBe(202);
    await h.reconciler.idle();
    await h.drift.rechecking;
    expect((await h.driftStore.get("r1"))?.state).toBe("in_sync");
    expect(engineDrifts(h)).toEqual(["sub-r1"]);
  });
});

describe("observing a tenant when the cloud fails", () => {
  const cloud = new FailingOpenStack("500");
  beforeAll(async () => void (await cloud.start()));
  afterAll(async () => cloud.stop());

  it("a service answering 500 is retried (4 attempts, backing off) and the tenant is then unknown, never in sync", async () => {
    const waits: number[] = [];
    const spec = tenantSpecOf(foldEvent(null, event("f1", "subscription.created")).state as DesiredState, SETTINGS);
    const seen = await observeTenant(new CloudClient(cloud.credentials()), { projectId: "p-1", userId: "u-1" }, spec, { sleep: async (ms) => void waits.push(ms) });
    expect(seen).toMatchObject({ state: "unknown", reason: expect.stringContaining("500") });
    expect(cloud.requests).toEqual(Array(4).fill("GET /identity/v3/projects/p-1"));
    expect(waits).toEqual([500, 1000, 2000]);
  });
});
