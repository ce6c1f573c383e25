import { afterEach, describe, expect, it } from "vitest";
import { signWebhook } from "../../../src/domain/webhook-signature.js";
import type { PlacementReading } from "../../../src/provisioning/capacity.js";
import { event, PREPAID } from "../../support/events.js";
import { harness, WEBHOOK_SECRET } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { tenantctlAt } from "../../support/tenantctl.js";
import { TWO_TARGETS } from "../../support/settings.js";

const TARGETS = TWO_TARGETS;

/** Placement as a target's hypervisors report it: one provider of 16 vCPUs (ratio 1), 64 GB, 1000 GB. */
const SMALL: PlacementReading = { physical: { VCPU: 16, MEMORY_MB: 65536, DISK_GB: 1000 }, used: { VCPU: 2, MEMORY_MB: 4096, DISK_GB: 20 }, providers: 1 };

let h: Awaited<ReturnType<typeof harness>>;
afterEach(async () => {
  await h.reconciler.stop();
  await h.close();
});

/** A harness selling in two targets; `down` says which targets do not answer, `placement` what each can host. */
async function twoTargets(o: { down?: Set<string>; placement?: Record<string, PlacementReading> } = {}) {
  const placement = o.placement ?? { one: { ...SMALL, physical: { VCPU: 1000, MEMORY_MB: 4_096_000, DISK_GB: 100_000 } }, two: SMALL };
  h = await harness({
    settings: TARGETS,
    targets: {
      problem: async (t) => (o.down?.has(t) ? `target ${t} does not answer: cannot reach compute` : null),
      capacity: ["one", "two"].map((name) => ({ name, selling: {}, placement: async () => placement[name] as PlacementReading })),
    },
  });
  return h;
}

const orderCheck = (body: unknown) => {
  const raw = JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  return h.app.request("/v1/order-checks", { method: "POST", headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(WEBHOOK_SECRET, ts, raw) }, body: raw });
};

describe("selling in several targets", () => {
  it("a purchase in a second region is declared there, and one without a target in the default region", async () => {
    await twoTargets();
    expect((await h.send(event("a1", "subscription.created", { plan: { ...PREPAID, target: "two" } }))).status).toBe(202);
    expect((await h.send(event("a2", "subscription.created"))).status).toBe(202);
    await h.reconciler.idle();
    expect(h.engine.config.get("sub-a1")?.spec).toMatchObject({ target: "two", region: "RegionTwo" });
    expect(h.engine.config.get("sub-a2")?.spec.region).toBe("RegionOne");
    expect(h.engine.config.get("sub-a2")?.spec).not.toHaveProperty("target");
  });

  it("an event naming an unknown target is refused with 422 and nothing is stored", async () => {
    await twoTargets();
    const res = await h.send(event("a1", "subscription.created", { plan: { ...PREPAID, target: "three" } }));
    expect(res.status).toBe(422);
    expect(await res.text()).toContain("unknown target 'three'");
    expect(await h.store.get("a1")).toBeNull();
  });

  it("moving an active subscription to another target is refused with 409 and a reason; its tenant stays where it is", async () => {
    await twoTargets();
    await h.send(event("a1", "subscription.created"));
    await h.reconciler.idle();
    const res = await h.send(event("a1", "subscription.modified", { plan: { ...PREPAID, cores: 8, target: "two" } }));
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("cannot move to two");
    expect((await h.store.get("a1"))?.desired.plan).toEqual(PREPAID);
  });

  it("operators list one target's subscriptions (tenantctl list --target)", async () => {
    await twoTargets();
    await h.send(event("a1", "subscription.created", { plan: { ...PREPAID, target: "two" } }));
    await h.send(event("a2", "subscription.created"));
    const ids = async (target: string) => ((await (await h.asOperator(`/v1/subscriptions?target=${target}`)).json()) as { subscriptions: Array<{ id: string }> }).subscriptions.map((s) => s.id);
    expect(await ids("two")).toEqual(["a1"]);
    expect(await ids("one")).toEqual(["a2"]);
  });

  it("a target that does not answer holds only its own tenants, waiting with the reason, and they go on once it answers", async () => {
    const down = new Set(["two"]);
    await twoTargets({ down });
    await h.send(event("b1", "subscription.created", { plan: { ...PREPAID, target: "two" } }));
    await h.send(event("b2", "subscription.created"));
    await h.reconciler.idle();
    expect(await h.store.get("b2")).toMatchObject({ phase: "ready" });
    expect(await h.store.get("b1")).toMatchObject({ phase: "waiting", lastError: "waiting for target two: target two does not answer: cannot reach compute" });
    expect(h.engine.config.has("sub-b1")).toBe(false);
    const targets = (await (await h.asOperator("/v1/targets")).json()) as { targets: Array<{ name: string; problem: string | null }> };
    expect(targets.targets).toEqual([expect.objectContaining({ name: "one", problem: null }), expect.objectContaining({ name: "two", problem: expect.stringContaining("does not answer") })]);
    down.clear();
    await h.reconciler.scan();
    await h.reconciler.idle();
    expect(await h.store.get("b1")).toMatchObject({ phase: "ready", lastError: null });
  });
});

describe("selling only what a target can host", () => {
  it("the order pre-check refuses a plan larger than what the target has left, with the customer's reason, and accepts one that fits", async () => {
    await twoTargets();
    await h.send(event("c1", "subscription.created", { plan: { ...PREPAID, cores: 12, target: "two" } }));
    const refused = await orderCheck({ plan: { ...PREPAID, cores: 8, target: "two" } });
    expect(refused.status).toBe(200);
    expect(await refused.json()).toEqual({ accepted: false, reasons: ["two has 4 vCPUs left to sell, the plan asks for 8 vCPUs"], target: "two" });
    expect(await (await orderCheck({ plan: { ...PREPAID, cores: 4, target: "two" } })).json()).toMatchObject({ accepted: true, reasons: [] });
    // The same 8 cores fit in the default target, and an upgrade of c1 counts what c1 has once.
    expect(await (await orderCheck({ plan: { ...PREPAID, cores: 8 } })).json()).toMatchObject({ accepted: true, target: "one" });
    expect(await (await orderCheck({ subscription: "c1", plan: { ...PREPAID, cores: 16, target: "two" } })).json()).toMatchObject({ accepted: true });
  });

  it("an unsigned order pre-check is refused", async () => {
    await twoTargets();
    const res = await h.app.request("/v1/order-checks", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ plan: PREPAID }) });
    expect(res.status).toBe(401);
  });

  it("a purchase that slips past the pre-check waits with the reason instead of overselling, and goes on when room appears", async () => {
    await twoTargets();
    await h.send(event("d1", "subscription.created", { plan: { ...PREPAID, cores: 12, target: "two" } }));
    await h.reconciler.idle();
    await h.send(event("d2", "subscription.created", { plan: { ...PREPAID, cores: 8, target: "two" } }));
    await h.reconciler.idle();
    expect(await h.store.get("d1")).toMatchObject({ phase: "ready" });
    expect(await h.store.get("d2")).toMatchObject({ phase: "waiting", lastError: "waiting for room in target two: two has 4 vCPUs left to sell, the plan asks for 8 vCPUs" });
    expect(h.engine.config.has("sub-d2")).toBe(false);
    // d1 shrinks to 8 cores: room for d2's 8 appears, and d2 goes on at the next scan.
    await h.send(event("d1", "subscription.modified", { plan: { ...PREPAID, cores: 8, target: "two" } }));
    await h.reconciler.idle();
    await h.reconciler.scan();
    await h.reconciler.idle();
    expect(await h.store.get("d2")).toMatchObject({ phase: "ready", lastError: null });
  });

  it("a downgrade or a suspension is never held for capacity, even in a target sold past its capacity", async () => {
    const placement = { one: SMALL, two: SMALL };
    await twoTargets({ placement });
    await h.send(event("e1", "subscription.created", { plan: { ...PREPAID, cores: 16, target: "two" } }));
    await h.reconciler.idle();
    placement.two = { ...SMALL, physical: { ...SMALL.physical, VCPU: 4 } };
    h.capacity?.forget();
    await h.send(event("e1", "subscription.modified", { plan: { ...PREPAID, cores: 8, target: "two" } }));
    await h.reconciler.idle();
    expect(await h.store.get("e1")).toMatchObject({ phase: "ready" });
    await h.send(event("e1", "subscription.suspended", { plan: { ...PREPAID, cores: 8, target: "two" } }));
    await h.reconciler.idle();
    expect(await h.store.get("e1")).toMatchObject({ phase: "ready" });
    expect(h.engine.config.get("sub-e1")?.spec.enabled).toBe(false);
  });

  it("operators see sold, used, physical and sellable per target and resource class", async () => {
    await twoTargets();
    await h.send(event("f1", "subscription.created", { plan: { ...PREPAID, cores: 4, ramGb: 8, diskGb: 100, target: "two" } }));
    await h.send(event("f2", "subscription.created", { plan: { model: "payg", target: "two" } }));
    const body = (await (await h.asOperator("/v1/capacity")).json()) as { targets: Array<Record<string, unknown>> };
    expect(body.targets[1]).toEqual({
      target: "two", problem: null, physical: SMALL.physical, sellable: SMALL.physical, used: SMALL.used,
      sold: { VCPU: 4, MEMORY_MB: 8192, DISK_GB: 100 },
    });
    const metrics = await (await h.asOperator("/metrics")).text();
    expect(metrics).toContain('tenants_target_capacity{target="two",resource="VCPU",kind="sold"} 4');
    expect(metrics).toContain('tenants_target_capacity{target="two",resource="VCPU",kind="physical"} 16');
  });
});

describe("tenantctl targets, capacity and list --target", () => {
  let server: Awaited<ReturnType<typeof listen>> | undefined;
  const { run } = tenantctlAt(() => server?.url ?? "");
  afterEach(async () => {
    await server?.close();
  });

  it("show each target, its capacity per resource with what is left to sell, and one target's subscriptions", async () => {
    await twoTargets({ down: new Set(["two"]) });
    server = await listen(h.app);
    await h.send(event("g1", "subscription.created", { plan: { ...PREPAID, cores: 12, target: "two" } }));
    await h.send(event("g2", "subscription.created"));
    const targets = await run(["targets"]);
    expect(targets.status).toBe(0);
    expect(targets.stdout).toMatch(/one\s+Milan\s+RegionOne\s+yes/);
    expect(targets.stdout).toMatch(/two\s+Frankfurt\s+RegionTwo\s+target two does not answer/);
    const capacity = await run(["capacity"]);
    expect(capacity.status).toBe(0);
    // two: 16 vCPUs sellable, 12 sold, 4 left; used 2 (Placement's usages).
    expect(capacity.stdout).toMatch(/two\s+VCPU\s+12\s+16\s+16\s+2\s+4/);
    const list = await run(["list", "--target", "two"]);
    expect(list.stdout).toContain("g1");
    expect(list.stdout).not.toContain("g2");
  });
});
