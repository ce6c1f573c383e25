import parsePrometheus from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";

const QUOTA_RAISED = [{ resource: "compute-quota", type: "openstack:compute/quotaSetV2:QuotaSetV2", change: "update", properties: ["cores"] }];
const USER_DISABLED = [{ resource: "user", type: "openstack:identity/user:User", change: "update", properties: ["enabled"] }];

async function ready(ids: string[]) {
  const h = await harness();
  for (const id of ids) await h.send(event(id, "subscription.created"));
  await h.reconciler.idle();
  return h;
}
const post = (h: Awaited<ReturnType<typeof harness>>, path: string) => h.asOperator(path, { method: "POST" });
const drifted = async (h: Awaited<ReturnType<typeof harness>>) =>
  Number(parsePrometheus(await (await h.app.request("/metrics")).text()).find((f) => f.name === "tenants_drifted_subscriptions")?.metrics[0]?.value);

describe("drift detection (with the engine double)", () => {
  it("a sweep refresh-previews every ready stack, records what differs, and exposes it in the API and a metric", async () => {
    const h = await ready(["1", "2"]);
    h.engine.driftOutside("sub-2", QUOTA_RAISED);
    const sweep = await post(h, "/v1/drift/checks");
    expect(sweep.status).toBe(200);
    expect(((await sweep.json()) as { results: unknown[] }).results).toEqual([
      { subscription: "1", outcome: "checked", state: "in_sync" },
      { subscription: "2", outcome: "checked", state: "drifted" },
    ]);
    expect(h.engine.calls.filter((c) => c.op === "drift").map((c) => c.stack)).toEqual(["sub-1", "sub-2"]);
    // Drift checks never change the stack: no up, no refresh that writes state.
    expect(h.engine.calls.filter((c) => c.op === "refresh")).toEqual([]);

    const list = (await (await h.asOperator("/v1/drift?state=drifted")).json()) as { drift: Array<{ subscriptionId: string; differences: unknown[] }> };
    expect(list.drift).toMatchObject([{ subscriptionId: "2", differences: QUOTA_RAISED }]);
    expect(((await (await h.asOperator("/v1/subscriptions/2")).json()) as { drift: { state: string } }).drift.state).toBe("drifted");
    expect(await drifted(h)).toBe(1);
    expect(h.logs.some((l) => l.includes('"msg":"drift check"') && l.includes('"result":"drifted"'))).toBe(true);
  });

  it("repair is a refreshing stack update named as a drift repair; the finding stays until a check finds the stack in sync", async () => {
    const h = await ready(["3"]);
    h.engine.driftOutside("sub-3", QUOTA_RAISED);
    await post(h, "/v1/subscriptions/3/drift/check");
    // An ordinary update diffs the program against the saved state only: it neither sees nor repairs drift,
    // and the finding stays.
    await h.send(event("3", "subscription.modified", { plan: { model: "prepaid", cores: 6, ramGb: 8, diskGb: 50, floatingIps: 1 } }));
    await h.reconciler.idle();
    expect(h.engine.callsFor("sub-3").filter((c) => c.op === "up").at(-1)?.refresh).toBe(false);
    expect((await h.driftStore.get("3"))?.state).toBe("drifted");
    expect((await (await post(h, "/v1/subscriptions/3/drift/check")).json()) as unknown).toMatchObject({ results: [{ state: "drifted" }] });

    const upsBefore = h.engine.callsFor("sub-3").filter((c) => c.op === "up").length;
    const res = await post(h, "/v1/subscriptions/3/drift/repair");
    expect(res.status).toBe(202);
    await h.reconciler.idle();
    const ups = h.engine.callsFor("sub-3").filter((c) => c.op === "up");
    expect(ups).toHaveLength(upsBefore + 1);
    expect(ups.at(-1)).toMatchObject({ refresh: true, message: expect.stringMatching(/^drift repair of compute-quota \(cores\) by root \(subscription 3, generation 3\)$/) });
    const history = (await (await h.asOperator("/v1/subscriptions/3/history")).json()) as { history: Array<{ message: string }> };
    expect(history.history[0]?.message).toContain("drift repair");
    // The repair is followed by a check, which finds the stack in sync and clears the finding.
    await h.drift.rechecking;
    expect((await h.driftStore.get("3"))?.state).toBe("in_sync");
    expect(await drifted(h)).toBe(0);
    // The next operation does not refresh again.
    await h.send(event("3", "subscription.suspended"));
    await h.reconciler.idle();
    expect(h.engine.callsFor("sub-3").filter((c) => c.op === "up").at(-1)?.refresh).toBe(false);
  });

  it("accept silences exactly these differences; a new difference is drifted again; nothing to act on is 409", async () => {
    const h = await ready(["4"]);
    expect((await post(h, "/v1/subscriptions/4/drift/accept")).status).toBe(409);
    expect((await post(h, "/v1/subscriptions/4/drift/repair")).status).toBe(409);
    h.engine.driftOutside("sub-4", QUOTA_RAISED);
    await post(h, "/v1/subscriptions/4/drift/check");
    const accepted = await post(h, "/v1/subscriptions/4/drift/accept");
    expect(accepted.status).toBe(200);
    expect(await drifted(h)).toBe(0);
    await post(h, "/v1/subscriptions/4/drift/check");
    expect((await h.driftStore.get("4"))?.state).toBe("accepted");
    h.engine.driftOutside("sub-4", [...QUOTA_RAISED, ...USER_DISABLED]);
    await post(h, "/v1/subscriptions/4/drift/check");
    expect((await h.driftStore.get("4"))?.state).toBe("drifted");
    expect(await drifted(h)).toBe(1);
  });

  it("stacks not ready or being updated are skipped; a failing check is recorded as failed, not as drift", async () => {
    const h = await ready(["5", "6"]);
    const release = h.engine.block("sub-5");
    await h.send(event("5", "subscription.suspended"));
    // Wait (with a deadline) until its update is running.
    for (let i = 0; i < 200 && !h.reconciler.busy("5"); i++) await new Promise((r) => setTimeout(r, 5));
    expect(h.reconciler.busy("5")).toBe(true);
    h.engine.failNext(new EngineFailure("keystone: 503", true), "sub-6");
    const results = ((await (await post(h, "/v1/drift/checks")).json()) as { results: Array<{ subscription: string; outcome: string }> }).results;
    expect(results).toEqual([{ subscription: "6", outcome: "failed", reason: "keystone: 503" }]);
    expect((await h.driftStore.get("6"))?.state).toBe("failed");
    const one = ((await (await post(h, "/v1/subscriptions/5/drift/check")).json()) as { results: Array<{ outcome: string }> }).results;
    expect(one[0]?.outcome).toBe("skipped");
    release();
    await h.reconciler.idle();
    expect(await drifted(h)).toBe(0);
  });
});

describe("the drift schedule", () => {
  it("sweeps every DRIFT_INTERVAL_SECONDS on its own, and not at all when it is 0", async () => {
    const h = await ready(["7"]);
    h.engine.driftOutside("sub-7", QUOTA_RAISED);
    const { DriftDetector } = await import("../../../src/provisioning/drift.js");
    const off = new DriftDetector({ store: h.store, drift: h.driftStore, engine: h.engine, log: { debug() {}, info() {}, warn() {}, error() {} }, intervalSeconds: 0, busy: () => false });
    off.start();
    const scheduled = new DriftDetector({ store: h.store, drift: h.driftStore, engine: h.engine, log: { debug() {}, info() {}, warn() {}, error() {} }, intervalSeconds: 1, busy: () => false });
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.driftStore.get("7")).toBeNull();
    scheduled.start();
    for (let i = 0; i < 40 && !(await h.driftStore.get("7")); i++) await new Promise((r) => setTimeout(r, 100));
    await scheduled.stop();
    await off.stop();
    expect((await h.driftStore.get("7"))?.state).toBe("drifted");
    expect(h.engine.calls.filter((c) => c.op === "drift")).toHaveLength(1);
  });
});
