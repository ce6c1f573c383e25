import { describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";

const NO_CLI = "the pulumi CLI is not on PATH: stacks cannot be updated";

/**
 * A newcomer's service accepts purchases before it can provision (no pulumi CLI, no admin credentials).
 * That is not the customer's fault and not transient noise: the purchase waits, visibly, and goes on by
 * itself once the configuration is complete; a cancellation of what never existed is done at once.
 */
describe("purchases the service cannot fulfil yet", () => {
  it("wait for configuration: no operation, no failure, no dead letter, shown in the list and the metrics; they resume by themselves", async () => {
    let missing = [NO_CLI];
    const h = await harness({ readiness: () => missing });
    expect((await h.send(event("51", "subscription.created"))).status).toBe(202);
    await h.reconciler.idle();
    expect(h.engine.calls).toHaveLength(0);
    const sub = await h.store.get("51");
    expect(sub).toMatchObject({ phase: "waiting", lastError: `waiting for configuration: ${NO_CLI}` });
    // An operator's retry changes nothing of that: it waits again, and nothing is dead-lettered.
    expect((await h.asOperator("/v1/subscriptions/51/retry", { method: "POST" })).status).toBe(202);
    await h.reconciler.idle();
    expect((await h.store.get("51"))?.phase).toBe("waiting");
    expect(((await (await h.asOperator("/v1/dead-letters")).json()) as { deadLetters: unknown[] }).deadLetters).toEqual([]);
    const list = (await (await h.asOperator("/v1/subscriptions?phase=waiting")).json()) as { subscriptions: Array<{ id: string; lastError: string }> };
    expect(list.subscriptions.map((s) => s.id)).toEqual(["51"]);
    expect(await (await h.app.request("/metrics")).text()).toMatch(/^tenants_subscriptions\{status="active",phase="waiting"\} 1$/m);

    missing = [];
    await h.reconciler.scan();
    await h.reconciler.idle();
    expect((await h.store.get("51"))?.phase).toBe("ready");
    expect(h.engine.callsFor("sub-51").map((c) => c.op)).toEqual(["up"]);
    await h.close();
  });

  it("a cancellation of a subscription no operation ever began on succeeds at once, without the engine, configured or not", async () => {
    const h = await harness({ readiness: () => [NO_CLI] });
    await h.send(event("52", "subscription.created"));
    await h.reconciler.idle();
    expect((await h.store.get("52"))?.phase).toBe("waiting");
    expect((await h.send(event("52", "subscription.cancelled"))).status).toBe(202);
    await h.reconciler.idle();
    expect(await h.store.get("52")).toMatchObject({ phase: "cancelled", lastError: null });
    expect(h.engine.calls).toHaveLength(0);
    const ops = await h.store.operations("52");
    expect(ops.map((o) => [o.kind, o.result])).toEqual([["destroy", "succeeded"]]);
    await h.close();
  });

  it("a cancellation of a provisioned subscription still destroys its stack", async () => {
    const h = await harness();
    await h.send(event("53", "subscription.created"));
    await h.reconciler.idle();
    await h.send(event("53", "subscription.cancelled"));
    await h.reconciler.idle();
    expect(h.engine.callsFor("sub-53").map((c) => c.op)).toEqual(["up", "destroy"]);
    await h.close();
  });
});
