import { describe, expect, it } from "vitest";
import { DEFAULT_METERS } from "../../../src/domain/billing.js";
import { closingInvoiceLines, type ClosingBilling } from "../../../src/marketplaces/cloudesire/closing-invoice.js";
import { event } from "../../support/events.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { PRICES } from "../../support/prices.js";

const payg = { model: "payg" as const };
const billing = (events: ReturnType<typeof event>[]): ClosingBilling => ({
  subscription: async (id) => ({ id, projectId: "p-1", events }),
  gnocchi: () => constantGnocchi({ "p-1": 10 }),
  meters: DEFAULT_METERS, prices: PRICES, granularitySeconds: 3600,
});
const cancelledAt = Date.parse("2026-11-02T12:00:00Z");
const life = [
  event("1", "subscription.created", { at: "2026-10-20T00:00:00Z", plan: payg }),
  event("1", "subscription.cancelled", { at: "2026-11-02T12:00:00Z", plan: payg }),
];

describe("the closing invoice of a cancelled PAYG subscription", () => {
  it("covers every month no billing run invoiced, up to the cancellation, each line dated when its usage ended", async () => {
    const lines = await closingInvoiceLines(billing(life), "1", cancelledAt, new Set());
    expect(lines.filter((l) => l.identifier.startsWith("cores-")).map((l) => [l.identifier, l.price.price, l.purchased])).toEqual([
      // 12 days × 24 h × 10 cores × 0.0125; 36 h × 10 × 0.0125
      ["cores-2026-10", "36.00", "2026-10-31T23:59:59.999Z"],
      ["cores-2026-11", "4.50", "2026-11-02T12:00:00.000Z"],
    ]);
  });

  it("leaves out a month a billing run already queued, and a trial's months altogether", async () => {
    const lines = await closingInvoiceLines(billing(life), "1", cancelledAt, new Set(["2026-10"]));
    expect(new Set(lines.map((l) => l.identifier.slice(-7)))).toEqual(new Set(["2026-11"]));
    const trial = [event("1", "subscription.created", { at: "2026-10-20T00:00:00Z", plan: { model: "payg", trial: true } }), life[1]!];
    expect(await closingInvoiceLines(billing(trial), "1", cancelledAt, new Set())).toEqual([]);
  });
});
