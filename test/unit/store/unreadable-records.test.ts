import { afterEach, describe, expect, it } from "vitest";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";
import { PRICES } from "../../support/prices.js";

/**
 * Issue 31 §1: Cloudesire's mapping stored a buyer's `josé@example.com` that the store's reads then refused,
 * and from then on every list holding it, the month's billing for every customer and its reconcile job
 * failed (500s, 173 failures and 33 dead letters in 17 minutes). One rule reads what the edges write; and a
 * record no rule of this version can read is isolated and named, never the whole list.
 */
let scene: Awaited<ReturnType<typeof cloudesireScene>> | undefined;
let h: Awaited<ReturnType<typeof harness>> | undefined;
afterEach(async () => {
  await scene?.close();
  await h?.close();
  scene = undefined;
  h = undefined;
});

/** The month before this one: the latest a billing run takes (a period is billed once it is over). */
const lastMonth = () => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
};
const json = async <T>(res: Response | Promise<Response>): Promise<{ status: number; body: T }> => {
  const r = await res;
  return { status: r.status, body: (await r.json()) as T };
};

describe("a customer's e-mail address", { timeout: 180_000 }, () => {
  it("an internationalised buyer address (josé@example.com) is provisioned, kept as given, listed, viewed and billed", async () => {
    scene = await cloudesireScene({ billing: { gnocchi: () => constantGnocchi({}), prices: PRICES } });
    const { sim, h: s } = scene;
    // MyUserDTO.email is a free String: Cloudesire checks nothing stricter than its own sign-up form.
    sim.addUser(3301, { email: "josé@example.com" });
    sim.order(5011, { type: "TRIAL", buyer: 3301 });
    sim.order(5012, { type: "TRIAL" });
    await sim.notify(5011, "CREATED");
    await sim.notify(5012, "CREATED");
    await until(() => sim.patches.filter((p) => p.deploymentStatus === "DEPLOYED").length === 2, "both DEPLOYED");
    await settled(scene, "5011");
    await settled(scene, "5012");

    const list = await json<{ subscriptions: Array<{ id: string; customer: { email: string } }> }>(s.asOperator("/v1/subscriptions"));
    expect(list.status).toBe(200);
    expect(list.body.subscriptions.map((i) => [i.id, i.customer.email])).toEqual([["5011", "josé@example.com"], ["5012", "ada2240@example.com"]]);
    const one = await json<{ customer: { email: string } }>(s.asOperator("/v1/subscriptions/5011"));
    expect(one).toMatchObject({ status: 200, body: { customer: { email: "josé@example.com" } } });
    const billed = await s.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ period: lastMonth() }) });
    expect(billed.status).toBe(201);
    expect(await s.queue.deadLetterCount()).toBe(0);
  });

  it("our own webhook takes the same addresses Cloudesire's mapping does, and refuses the same others with a reason", async () => {
    h = await harness();
    const withEmail = (sub: string, email: string) => {
      const e = event(sub, "subscription.created");
      return { ...e, subscription: { ...e.subscription, customer: { ...e.subscription.customer, email } } };
    };
    expect((await h.send(withEmail("w-1", "josé@example.com"))).status).toBe(202);
    expect((await h.send(withEmail("w-2", "用户@例子.广告"))).status).toBe(202);
    const refused = await json<{ title: string; detail: unknown }>(h.send(withEmail("w-3", "not an address")));
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).toMatch(/email: an address such as name@example.com/);
  });
});

describe("a stored record this version cannot read", { timeout: 180_000 }, () => {
  it("is isolated and named in /healthz and the fleet view; the list, the others' views and the month's billing go on; its job does not fail", async () => {
    h = await harness({ billing: { gnocchi: () => constantGnocchi({}), prices: PRICES } });
    for (const id of ["61", "62", "63"]) expect((await h.send(event(id, "subscription.created", { plan: { model: "payg" } }))).status).toBe(202);
    await h.reconciler.idle();
    // As an older rule (or a hand edit) left it: an address no rule of ours reads, in the record and its events,
    // and an operation still owed.
    await h.db.exec(`UPDATE subscriptions SET desired = jsonb_set(desired, '{customer,email}', '"no address here"'), generation = generation + 1 WHERE id = '62';
      UPDATE events SET body = jsonb_set(body, '{subscription,customer,email}', '"no address here"') WHERE subscription_id = '62'`);

    const list = await json<{ subscriptions: Array<{ id: string }> }>(h.asOperator("/v1/subscriptions"));
    expect(list.status).toBe(200);
    expect(list.body.subscriptions.map((i) => i.id)).toEqual(["61", "63"]);
    expect((await h.asOperator("/v1/subscriptions?search=example")).status).toBe(200);
    expect((await h.asOperator("/v1/subscriptions/61")).status).toBe(200);
    const view = await json<{ title: string }>(h.asOperator("/v1/subscriptions/62"));
    expect(view.status).toBe(409);
    expect(view.body.title).toMatch(/subscription 62's stored record cannot be read.*customer\.email/);

    const health = await json<{ unreadable?: Array<{ subscription: string; reason: string }> }>(h.asOperator("/healthz"));
    expect(health.body.unreadable).toEqual([expect.objectContaining({ subscription: "62", reason: expect.stringMatching(/customer\.email/) })]);
    const fleet = await json<{ total: number; unreadable?: Array<{ subscription: string }> }>(h.asOperator("/v1/fleet"));
    expect(fleet.body.unreadable?.map((u) => u.subscription)).toEqual(["62"]);

    const run = await json<{ run: { invoiceCount: number; unbilled?: Array<{ subscription: string; reason: string }> } }>(
      h.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ period: "2026-11" }) }),
    );
    expect(run.status).toBe(201);
    expect(run.body.run.invoiceCount).toBe(2);
    expect(run.body.run.unbilled).toEqual([expect.objectContaining({ subscription: "62" })]);

    // A job for it (queued before it was set aside) ends without failing; the minute's scan does not queue it again.
    await h.queue.enqueue("62");
    await h.reconciler.idle();
    await h.reconciler.scan();
    await h.reconciler.idle();
    await h.reconciler.scan();
    await h.reconciler.idle();
    expect(await h.queue.deadLetterCount()).toBe(0);
    expect(h.logs.filter((l) => l.includes("reconcile job failed"))).toEqual([]);
    expect(h.logs.filter((l) => l.includes("stored record cannot be read") && l.includes('"subscription":"62"'))).toHaveLength(1);
  });
});
