import { afterEach, describe, expect, it } from "vitest";
import { signNotification } from "../../../src/marketplaces/cloudesire/signature.js";
import { CD_SECRET, cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";

/**
 * Issue 31 §6: Cloudesire's notifications carry no timestamp to bound a replay (docs/event-notification.md),
 * and each replay of a captured one, once the read it asked for had finished, cost one more read of
 * Cloudesire's API. A notification identical to one whose read has been done asks for nothing.
 */
let scene: Awaited<ReturnType<typeof cloudesireScene>> | undefined;
afterEach(async () => {
  await scene?.close();
  scene = undefined;
});

describe("a captured Cloudesire notification replayed", { timeout: 180_000 }, () => {
  it("costs no read of Cloudesire's API once a read after it was made; a new notification still does", async () => {
    scene = await cloudesireScene();
    const { sim, url } = scene;
    sim.order(5031, { type: "TRIAL" });
    const send = (raw: string) =>
      fetch(`${url}/v1/cloudesire/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "cmw-event-signature": signNotification(CD_SECRET, raw) } });
    const captured = JSON.stringify({ entity: "Subscription", id: 5031, type: "CREATED", date: "2026-12-01T10:00:00Z" });
    expect((await send(captured)).status).toBe(204);
    await until(() => sim.patches.some((p) => p.subscription === 5031 && p.deploymentStatus === "DEPLOYED"), "DEPLOYED of 5031");
    await settled(scene, "5031");
    const reads = () => sim.callsTo("GET", /^subscription\/5031$/).length;
    const before = reads();
    for (let i = 0; i < 5; i++) {
      expect((await send(captured)).status).toBe(204);
      await settled(scene, "5031");
    }
    expect(reads()).toBe(before);
    // Cloudesire's next notification (another date: another body) is read.
    expect((await send(JSON.stringify({ entity: "Subscription", id: 5031, type: "MODIFIED", date: "2026-12-01T11:00:00Z" }))).status).toBe(204);
    await until(() => reads() === before + 1, "the read a new notification asks for");
  });
});
