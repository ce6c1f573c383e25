import { describe, expect, it } from "vitest";
import { DEFAULT_METERS, type BillableSubscription } from "../../../src/domain/billing.js";
import { closingInvoiceLines } from "../../../src/marketplaces/cloudesire/closing-invoice.js";
import { computeBilling } from "../../../src/metering/billing-run.js";
import { UsageSoFar } from "../../../src/metering/usage-so-far.js";
import { periodOf } from "../../../src/metering/period.js";
import { event } from "../../support/events.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { PRICES } from "../../support/prices.js";

const OCTOBER = "2026-10-01T00:00:00Z";
const payg = (id: string, projectId: string, target?: string): BillableSubscription => ({
  id, projectId, ...(target ? { target } : {}),
  events: [event(id, "subscription.created", { at: OCTOBER, plan: { model: "payg", ...(target ? { target } : {}) } })],
});

describe("billing several targets", () => {
  it("each target's tenants are measured in that target's Gnocchi, one request per meter per Gnocchi", async () => {
    // The same project id in both Gnocchis: only the one of the tenant's own target may count.
    const one = constantGnocchi({ "p-one": 2, "p-two": 100 });
    const two = constantGnocchi({ "p-one": 100, "p-two": 3 });
    const { inputs, invoices } = await computeBilling({
      period: periodOf("2026-10"), subscriptions: [payg("a", "p-one"), payg("b", "p-two", "two")],
      gnocchi: one, gnocchiOf: (t) => (t === "two" ? two : undefined), meters: DEFAULT_METERS, prices: PRICES, granularitySeconds: 3600,
    });
    const meters = Object.keys(DEFAULT_METERS).length;
    expect(one.requests).toBe(meters);
    expect(two.requests).toBe(meters);
    expect(inputs.gnocchiRequests).toBe(2 * meters);
    const hours = (id: string) => Number(inputs.subscriptions.find((s) => s.id === id)?.usageUnitMs.cores) / 3_600_000;
    // October has 744 hours: 2 cores there for "a", 3 for "b".
    expect(hours("a")).toBe(2 * 744);
    expect(hours("b")).toBe(3 * 744);
    expect(invoices.map((i) => i.subscriptionId)).toEqual(["a", "b"]);
  });

  it("each subscription's target is recorded with its usage, the default's by name, so that a run's totals per target can be reproduced", async () => {
    const { inputs } = await computeBilling({
      period: periodOf("2026-10"), subscriptions: [payg("a", "p-one"), payg("b", "p-two", "two")],
      gnocchi: constantGnocchi({ "p-one": 2, "p-two": 3 }), defaultTarget: "one", meters: DEFAULT_METERS, prices: PRICES, granularitySeconds: 3600,
    });
    expect(inputs.subscriptions.map((s) => [s.id, s.target])).toEqual([["a", "one"], ["b", "two"]]);
  });

  it("a target without a Gnocchi of its own is measured in the default's, in the same requests", async () => {
    const one = constantGnocchi({ "p-one": 2, "p-two": 3 });
    const { inputs } = await computeBilling({
      period: periodOf("2026-10"), subscriptions: [payg("a", "p-one"), payg("b", "p-two", "two")],
      gnocchi: one, gnocchiOf: () => undefined, meters: DEFAULT_METERS, prices: PRICES, granularitySeconds: 3600,
    });
    expect(inputs.gnocchiRequests).toBe(Object.keys(DEFAULT_METERS).length);
  });

  // Cloudesire's two other readers of usage read where a billing run reads (the same gnocchiOfTarget).
  const one = () => constantGnocchi({ "p-two": 100 });
  const two = () => constantGnocchi({ "p-two": 3 });

  it("a Cloudesire closing invoice of a tenant in another target is rated from that target's Gnocchi, as the run would", async () => {
    const inTwo = two();
    const sub = payg("b", "p-two", "two");
    const cancelledAt = Date.parse("2026-10-11T00:00:00Z"); // in October: the month's lines (its events say active all month)
    const lines = await closingInvoiceLines(
      { subscription: async () => sub, gnocchi: one, gnocchiOf: (t) => (t === "two" ? inTwo : undefined), meters: DEFAULT_METERS, prices: PRICES, granularitySeconds: 3600 },
      "b", cancelledAt, new Set(),
    );
    expect(inTwo.requests).toBe(Object.keys(DEFAULT_METERS).length);
    const cores = lines.find((l) => JSON.stringify(l).includes("cores 2026-10"));
    expect(JSON.stringify(cores)).toContain("cores 2026-10: 2232.0"); // 3 cores x 744 hours, not the default Gnocchi's 100
  });

  it("a Cloudesire metric poll of a tenant in another target counts that target's Gnocchi; the default's tenants share the default's answers", async () => {
    const inOne = one();
    const inTwo = two();
    const usage = new UsageSoFar({ gnocchi: () => inOne, gnocchiOf: (t) => (t === "two" ? inTwo : undefined), meters: DEFAULT_METERS, granularitySeconds: 3600, now: () => Date.parse("2026-10-11T00:00:00Z") });
    expect((await usage.of(payg("b", "p-two", "two"), "cores")).toNumber()).toBe(3 * 240);
    expect((await usage.of(payg("a", "p-two"), "cores")).toNumber()).toBe(100 * 240);
    expect([inOne.requests, inTwo.requests]).toEqual([1, 1]);
  });
});
