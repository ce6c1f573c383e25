import { afterEach, describe, expect, it } from "vitest";
import { cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";
import { event } from "../../support/events.js";

/**
 * Issue 31 §2: the generic webhook and Cloudesire shared one space of event ids and one of subscriptions.
 * A generic event whose id was `cloudesire-5011-read-000000001` made Cloudesire's later read of 5011 a
 * "duplicate" (a paid order dropped without an error); a generic `subscription.cancelled` for a Cloudesire
 * subscription's id cancelled that tenant and overwrote its customer. Each marketplace owns its ids.
 */
let scene: Awaited<ReturnType<typeof cloudesireScene>> | undefined;
afterEach(async () => {
  await scene?.close();
  scene = undefined;
});

const deployed = (id: number) => scene!.sim.patches.some((p) => p.subscription === id && p.deploymentStatus === "DEPLOYED");

describe("each marketplace owns its event ids and its subscriptions", { timeout: 180_000 }, () => {
  it("a generic event cannot take an id of Cloudesire's: refused with a reason, and Cloudesire's order is provisioned", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    const squatter = await h.send(event("w-5011", "subscription.created", { id: "cloudesire-5011-read-000000001" }));
    expect(squatter.status).toBe(409);
    expect(((await squatter.json()) as { title: string }).title).toMatch(/event ids beginning "cloudesire-" are Cloudesire's/);
    sim.order(5011, { type: "TRIAL" });
    await sim.notify(5011, "CREATED");
    await until(() => deployed(5011), "DEPLOYED of 5011");
    await settled(scene, "5011");
    expect((await h.store.get("5011"))?.desired.status).toBe("active");
  });

  it("a generic event for a Cloudesire subscription is refused (409, why) and changes nothing of it", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(5012, { type: "TRIAL" });
    await sim.notify(5012, "CREATED");
    await until(() => deployed(5012), "DEPLOYED of 5012");
    await settled(scene, "5012");
    const before = await h.store.get("5012");

    const cancel = await h.send(event("5012", "subscription.cancelled"));
    expect(cancel.status).toBe(409);
    expect(((await cancel.json()) as { title: string }).title).toMatch(/subscription 5012 is sold through Cloudesire: the generic webhook cannot change it/);
    const after = await h.store.get("5012");
    expect(after?.desired).toEqual(before?.desired);
    expect(h.engine.callsFor("sub-5012").map((c) => c.op)).toEqual(["up"]);
  });

  it("Cloudesire's read of a subscription id the generic webhook owns is refused, named in its last read, and changes nothing", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    expect((await h.send(event("5013", "subscription.created"))).status).toBe(202);
    await h.reconciler.idle();
    const before = await h.store.get("5013");
    sim.order(5013, { type: "TRIAL" });
    await sim.notify(5013, "CREATED");
    await until(async () => ((await h.cloudesire.store.get("5013"))?.lastRead ?? null) !== null, "Cloudesire's read of 5013");
    expect((await h.cloudesire.store.get("5013"))?.lastRead?.verdict).toMatch(/^refused: subscription 5013 is the generic webhook's: Cloudesire cannot change it/);
    expect((await h.store.get("5013"))?.desired).toEqual(before?.desired);
    expect(deployed(5013)).toBe(false);
  });
});
