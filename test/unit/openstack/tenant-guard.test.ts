import { afterEach, describe, expect, it } from "vitest";
import { CloudClient } from "../../../src/openstack/cloud-client.js";
import { CloudGuard, type TenantGuard } from "../../../src/provisioning/tenant-guard.js";
import { event, PREPAID } from "../../support/events.js";
import { FailingOpenStack } from "../../support/failing-openstack.js";
import { harness } from "../../support/harness.js";

/*
 * The guard's verdicts on real usage (downsize refusals, purge and hold) are tested against the real Nova,
 * Cinder and Neutron in test/integration/tenant-guard.test.ts. Here only what those services cannot be
 * made to do: fail with a 5xx, not answer, not be there.
 */
let cloud: FailingOpenStack | undefined;
afterEach(async () => {
  await cloud?.stop();
  cloud = undefined;
});

/** The service, its guard talking to a failing cloud, with subscription 42 provisioned (the engine double). */
async function withFailingCloud(mode: "500" | "hang", timeoutMs = 30_000) {
  cloud = await new FailingOpenStack(mode).start();
  const client = new CloudClient(cloud.credentials(), fetch, { timeoutMs });
  const real = new CloudGuard(client, { policy: "purge", pollMs: 5, timeoutMs: 5000 });
  // The checks around an update (leftovers of an earlier create, quota sets, servers' power) talk to the
  // cloud too: they join in once the tenant exists, so that its creation is not what fails.
  let armed = false;
  const guard: TenantGuard = {
    beforeUp: (p, spec) => real.beforeUp(p, spec),
    beforeDestroy: (p, onStep) => real.beforeDestroy(p, onStep),
    leftoversOf: (spec) => (armed ? real.leftoversOf(spec) : Promise.resolve({})),
    afterUp: (p, spec) => (armed ? real.afterUp(p, spec) : Promise.resolve([])),
    power: (p, enabled) => (armed ? real.power(p, enabled) : Promise.resolve([])),
  };
  const h = await harness({ maxAttempts: 2, guard });
  await h.send(event("42", "subscription.created", { plan: { ...PREPAID, cores: 16, ramGb: 32, diskGb: 200 } }));
  await h.reconciler.idle();
  expect((await h.store.get("42"))?.phase).toBe("ready");
  armed = true;
  return { h, cloud };
}

describe("the tenant guard when the cloud fails", () => {
  it("a cloud that cannot be reached is a transient failure, retried by the queue, never a downsize verdict", async () => {
    const { h, cloud } = await withFailingCloud("500");
    await cloud.stop();
    await h.send(event("42", "subscription.modified", { plan: { ...PREPAID, cores: 4 } }));
    await h.reconciler.idle();
    const sub = await h.store.get("42");
    expect(sub?.phase).toBe("failed");
    expect(sub?.lastError).toMatch(/cannot reach/);
    const ops = await h.store.operations("42");
    expect(ops[1]?.error).toMatch(/will retry/); // the first attempt was retried
  });

  it("Nova answering 500 to the usage read is transient: retried, then failed naming the status, never a downsize verdict", async () => {
    const { h, cloud } = await withFailingCloud("500");
    const ups = h.engine.calls.length;
    await h.send(event("42", "subscription.modified", { plan: { ...PREPAID, cores: 4 } }));
    await h.reconciler.idle();
    const sub = await h.store.get("42");
    expect(sub?.phase).toBe("failed");
    expect(sub?.lastError).toBe("compute answered 500 to GET /os-quota-sets/project-of-sub-42/detail");
    expect(sub?.lastError).not.toContain("downsize refused");
    expect((await h.store.operations("42"))[1]?.error).toMatch(/will retry/);
    expect(cloud.requests.filter((r) => r.includes("os-quota-sets"))).toHaveLength(2); // once per attempt
    expect(h.engine.calls).toHaveLength(ups); // the engine never ran
  });

  it("a cloud that does not answer in time is abandoned after the timeout and retried, the cancellation not done", async () => {
    const { h, cloud } = await withFailingCloud("hang", 300);
    await h.send(event("42", "subscription.cancelled"));
    await h.reconciler.idle();
    const sub = await h.store.get("42");
    expect(sub?.phase).toBe("failed");
    expect(sub?.lastError).toMatch(/cannot reach compute .*timeout/i);
    expect(h.engine.callsFor("sub-42").map((c) => c.op)).toEqual(["up"]); // never destroyed
    expect(cloud.requests.length).toBeGreaterThanOrEqual(2);
  });
});
