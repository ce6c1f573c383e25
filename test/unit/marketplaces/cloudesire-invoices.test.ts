import { afterEach, describe, expect, it } from "vitest";
import { cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";
import { paygRun } from "../../support/payg-run.js";
import { DEFAULT_METERS, type Invoice } from "../../../src/domain/billing.js";
import { rerateDocuments } from "../../../src/metering/rerate.js";
import { computeBilling } from "../../../src/metering/billing-run.js";
import { Decimal, MS_PER_HOUR } from "../../../src/metering/money.js";
import { periodOf } from "../../../src/metering/period.js";
import { PRICES } from "../../support/prices.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { paygIntervals } from "../../../src/metering/payg-intervals.js";

// docs/billing.md: a vendor pushes pay-as-you-go lines with `POST subscription/{id}/invoice`; nothing on
// Cloudesire's side deduplicates them, so our own record decides, and an unknown outcome is held.
let scene: Awaited<ReturnType<typeof cloudesireScene>> | undefined;
afterEach(async () => {
  await scene?.close();
  scene = undefined;
});

async function paygSubscription(id: number) {
  const s = scene!;
  s.sim.order(id, { type: "TRIAL", productVersion: 88, quantities: {} });
  await s.sim.notify(id, "CREATED");
  await until(() => s.sim.patches.some((p) => p.subscription === id), `DEPLOYED of ${id}`);
  await settled(s, String(id));
}

const USAGE = { cores: 720, ramGb: 1440, diskGb: 72000, floatingIps: 0 };
const thisMonth = () => new Date().toISOString().slice(0, 7);


describe("pay-as-you-go usage polled by Cloudesire (CLOUDESIRE_PAYG_MODE=metrics)", { timeout: 180_000 }, () => {
  it("a metric poll answers the usage a billing run rates for the same hours; a trial counts zero, a stranger is 404, a poll without the custom header 401", async () => {
    const KEY = "cd-metrics-key-0123456789";
    scene = await cloudesireScene({
      paygPlans: ["88"], settings: { paygMode: "metrics", metricsHeader: "X-Vendor-Key", metricsToken: KEY },
      billing: { gnocchi: () => constantGnocchi({ "project-of-sub-90": 40_000, "project-of-sub-91": 40_000 }), prices: PRICES },
    });
    const { sim, h, url } = scene;
    const poll = (id: number | string, meter: string, key = KEY) => fetch(`${url}/v1/cloudesire/metrics/${meter}`, { headers: { "CD-Subscription-Id": String(id), "X-Vendor-Key": key } });
    sim.order(90, { type: "NORMAL", paid: true, deploymentStatus: "PENDING", productVersion: 88, quantities: {} });
    await sim.notify(90, "CREATED");
    await paygSubscription(91); // a trial
    await until(() => sim.patches.some((p) => p.subscription === 90), "DEPLOYED of 90");
    // Cancelled, so that the hours are closed: the poll and the run integrate the same ones.
    sim.set(90, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(90, "MODIFIED");
    await until(() => sim.patches.some((p) => p.subscription === 90 && p.deploymentStatus === "UNDEPLOYED"), "UNDEPLOYED");
    await settled(scene, "90");
    const polled = (await (await poll(90, "cores")).json()) as { value: number };
    const run = await h.billingStore.billableSubscriptions("90");
    const period = thisMonth();
    const { inputs } = await computeBilling({ period: periodOf(period), subscriptions: run, gnocchi: constantGnocchi({ "project-of-sub-90": 40_000 }), meters: DEFAULT_METERS, prices: PRICES, granularitySeconds: 3600 });
    expect(polled.value).toBeGreaterThan(0);
    expect(polled.value.toFixed(6)).toBe(new Decimal(inputs.subscriptions[0]?.usageUnitMs.cores ?? "0").div(MS_PER_HOUR).toFixed(6));
    // Nothing pushed: Cloudesire bills from the metrics.
    expect(sim.invoices).toEqual([]);
    expect(await (await poll(91, "ramGb")).json()).toEqual({ value: 0 });
    expect((await poll(999, "cores")).status).toBe(404);
    expect((await poll(90, "cores", "wrong-key-0123456789")).status).toBe(401);
    expect((await poll(90, "gpus")).status).toBe(404); // no such meter (an invalid path is 404 here)
  });
});

describe("pay-as-you-go invoices pushed to Cloudesire", { timeout: 180_000 }, () => {
  it("a cancelled PAYG subscription's usage not yet invoiced is pushed, dated, before UNDEPLOYED; the month's run pushes nothing more for it", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"], billing: { gnocchi: () => constantGnocchi({ "project-of-sub-86": 100_000 }), prices: PRICES } });
    const { sim, h } = scene;
    sim.order(86, { type: "NORMAL", paid: true, deploymentStatus: "PENDING", productVersion: 88, quantities: {} });
    await sim.notify(86, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === 86), "DEPLOYED of 86");
    await settled(scene, "86");
    sim.set(86, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(86, "MODIFIED");
    await until(() => sim.patches.some((p) => p.subscription === 86 && p.deploymentStatus === "UNDEPLOYED"), "UNDEPLOYED");
    await settled(scene, "86");
    const period = thisMonth();
    expect(sim.invoices.map((i) => i.subscription)).toEqual([86]);
    const lines = sim.invoices[0]?.lines as Array<{ identifier: string; price: { currency: string }; purchased: string }>;
    expect(lines.map((l) => l.identifier)).toContain(`cores-${period}`);
    expect(lines.every((l) => l.identifier.endsWith(`-${period}`))).toBe(true);
    // Dated when the usage ended (the cancellation), in the price list's currency.
    const cancelled = (await h.store.get("86"))?.desired.statusClock?.at;
    expect(lines.every((l) => l.purchased === cancelled && l.price.currency === "EUR")).toBe(true);
    const applied = sim.calls.filter((c) => c.applied && /^subscription\/86(\/invoice)?$/.test(c.path)).map((c) => `${c.method} ${c.path}`);
    expect(applied.slice(-2)).toEqual(["POST subscription/86/invoice", "PATCH subscription/86"]);
    // The month's run, later: nothing more for 86 (its usage was invoiced with its cancellation).
    const { computation, totals } = paygRun(period, { 86: USAGE });
    await h.billingStore.save(computation, totals);
    h.cloudesire.kick();
    await settled(scene, "86");
    expect(sim.invoices).toHaveLength(1);
    expect(await h.cloudesire.store.deadLetters()).toEqual([]);
  });


  it("a pay-as-you-go trial is never billed; its conversion to a paid subscription starts the billed hours", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"] });
    const { sim, h } = scene;
    await paygSubscription(84);
    const billed = async () => {
      const sub = (await h.billingStore.billableSubscriptions()).find((s) => s.id === "84");
      const now = new Date();
      return paygIntervals(sub?.events ?? [], { name: "now", startMs: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1), stopMs: Date.now() + 1 });
    };
    expect(await billed()).toEqual([]);
    const converted = Date.now();
    sim.set(84, { type: "NORMAL", paid: true });
    await sim.notify(84, "MODIFIED");
    await settled(scene, "84");
    const intervals = await billed();
    expect(intervals).toHaveLength(1);
    expect(intervals[0]?.startMs).toBeGreaterThanOrEqual(converted);
    // The same tenant, nothing to change: the conversion is no stack change beyond the plan's record.
    expect(h.engine.callsFor("sub-84").every((c) => c.spec?.quotas.compute.cores === 64)).toBe(true);
  });

  it("a finished billing run pushes each Cloudesire PAYG subscription's lines once, in decimal strings dated at the period's end, totalling our invoice", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"] });
    const { sim, h } = scene;
    await paygSubscription(81);
    const { computation, totals } = paygRun("2026-10", { 81: USAGE, "not-cloudesire": USAGE });
    await h.billingStore.save(computation, totals);
    await until(() => sim.invoices.length === 1, "the invoice push");
    await settled(scene, "81");
    const [pushed] = sim.invoices;
    expect(pushed?.subscription).toBe(81);
    expect(pushed?.lines).toEqual([
      { description: "cores 2026-10: 720.000000 core-hours (0 free) at 0.0125 EUR each", identifier: "cores-2026-10", price: { price: "9.00", currency: "EUR" }, quantity: "1", unit: "period", purchased: "2026-10-31T23:59:59.999Z" },
      { description: "ramGb 2026-10: 1440.000000 GB-hours (0 free) at 0.004 EUR each", identifier: "ramGb-2026-10", price: { price: "5.76", currency: "EUR" }, quantity: "1", unit: "period", purchased: "2026-10-31T23:59:59.999Z" },
      { description: "diskGb 2026-10: 72000.000000 GB-hours (0 free) at 0.00015 EUR each", identifier: "diskGb-2026-10", price: { price: "10.80", currency: "EUR" }, quantity: "1", unit: "period", purchased: "2026-10-31T23:59:59.999Z" },
    ]);
    expect(computation.invoices.find((i) => i.subscriptionId === "81")?.total).toBe("25.56");
    // The same run saved again, or its hook run again (a retry), queues nothing more.
    await h.billingStore.save(computation, totals);
    await h.db.transaction((tx) => h.cloudesire.reportBack.onBillingRunSaved(tx, "2026-10", computation.invoices));
    h.cloudesire.kick();
    await settled(scene, "81");
    expect(sim.invoices).toHaveLength(1);
    expect((await h.cloudesire.store.outboxOf("81")).filter((r) => r.call.kind === "invoice").map((r) => r.state)).toEqual(["sent"]);
  });

  it("a re-rating's credit note is held for an operator (Cloudesire's API cannot credit an invoice) and version 2 waits behind it; marked credited, version 2 is pushed once", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"] });
    const { sim, h } = scene;
    await paygSubscription(85);
    const first = paygRun("2026-10", { 85: USAGE });
    await h.billingStore.save(first.computation, first.totals);
    await until(() => sim.invoices.length === 1, "version 1's push");
    const corrected = paygRun("2026-10", { 85: { ...USAGE, cores: 1000 } });
    const rerate = () => h.billingStore.saveRerate(corrected.computation, (issued) => ({ ...rerateDocuments(issued, corrected.computation.invoices), total: "0", targetTotals: [] }));
    await rerate();
    await until(async () => (await h.cloudesire.store.deadLetters()).length === 1, "the held credit note");
    const [credit] = await h.cloudesire.store.deadLetters();
    expect(credit).toMatchObject({ state: "held", call: { kind: "credit-note", period: "2026-10", cancelsVersion: 1, total: "25.56" }, lastError: expect.stringContaining("credit it on Cloudesire") });
    // Version 2 waits behind the credit: no second charge before the old one is credited.
    expect((await h.cloudesire.store.outboxOf("85")).filter((r) => r.lane === "invoice").map((r) => `${r.call.kind} ${r.state}`)).toEqual(["invoice sent", "credit-note held", "invoice pending"]);
    expect(sim.invoices).toHaveLength(1);
    const res = await h.asOperator(`/v1/cloudesire/outbox/${credit?.id}/resolve`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "sent" }) });
    expect(res.status).toBe(200);
    await until(() => sim.invoices.length === 2, "version 2's push");
    expect(((sim.invoices[1]?.lines ?? []) as Array<{ identifier: string; price: { price: string } }>).find((l) => l.identifier === "cores-2026-10")?.price.price).toBe("12.50");
    // The same re-rating's hook again (a retry) queues nothing more.
    await h.db.transaction(async (tx) => h.cloudesire.reportBack.onRerateSaved(tx, "2026-10", rerateDocuments([{ invoice: { ...(first.computation.invoices[0] as Invoice), version: 1 }, credited: false }], corrected.computation.invoices)));
    h.cloudesire.kick();
    await settled(scene, "85");
    expect(sim.invoices).toHaveLength(2);
    expect((await h.cloudesire.store.outboxOf("85")).filter((r) => r.lane === "invoice").map((r) => `${r.call.kind} ${r.state}`)).toEqual(["invoice sent", "credit-note sent", "invoice sent"]);
  });

  it("a push that timed out after Cloudesire took it is held for an operator, never pushed again", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"], timeoutMs: 700 });
    const { sim, h } = scene;
    await paygSubscription(82);
    sim.inject("POST", /invoice$/, "timeout-after", 1);
    const { computation, totals } = paygRun("2026-10", { 82: USAGE });
    await h.billingStore.save(computation, totals);
    await until(async () => (await h.cloudesire.store.deadLetters()).length === 1, "the held push");
    const [held] = await h.cloudesire.store.deadLetters();
    expect(held).toMatchObject({ state: "held", call: { kind: "invoice", period: "2026-10" }, lastError: expect.stringContaining("may have created the invoice") });
    await settled(scene, "82");
    expect(sim.invoices).toHaveLength(1);
    expect(sim.callsTo("POST", /invoice$/)).toHaveLength(1);
    // The operator checked Cloudesire: it is there. Recorded as sent; nothing is pushed.
    const res = await h.asOperator(`/v1/cloudesire/outbox/${held?.id}/resolve`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "sent" }) });
    expect(await res.json()).toMatchObject({ state: "sent", lastError: expect.stringContaining("marked sent by root") });
    // The audit trail names who decided, and about which subscription.
    const trail = (await (await h.asOperator("/v1/audit?subscription=82&limit=1")).json()) as { items: unknown[] };
    expect(trail.items).toEqual([expect.objectContaining({ actor: "operator:root", action: "cloudesire.resolve", subscriptionId: "82", result: "ok" })]);
    await settled(scene, "82");
    expect(sim.callsTo("POST", /invoice$/)).toHaveLength(1);
  });

  it("a push Cloudesire answered with a 5xx (not taken) is retried until it lands, once", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"] });
    const { sim, h } = scene;
    await paygSubscription(83);
    sim.inject("POST", /invoice$/, "5xx", 2);
    const { computation, totals } = paygRun("2026-10", { 83: USAGE });
    await h.billingStore.save(computation, totals);
    await until(() => sim.invoices.length === 1, "the invoice push");
    await settled(scene, "83");
    expect(sim.callsTo("POST", /invoice$/).map((c) => c.status)).toEqual([503, 503, 201]);
    expect(sim.invoices).toHaveLength(1);
  });
});
