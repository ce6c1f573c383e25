import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_METERS, type BillingInputs } from "../../../src/domain/billing.js";
import { rateInputs } from "../../../src/metering/billing-run.js";
import { Decimal, MS_PER_HOUR } from "../../../src/metering/money.js";
import { runTotals } from "../../../src/metering/run-totals.js";
import { PRICES } from "../../support/prices.js";

const unitMs = (hours: number) => new Decimal(hours).times(MS_PER_HOUR).toString();
/** A run's inputs: each subscription's core-hours (nothing else used) and its target (undefined: none recorded). */
const inputsOf = (subs: Array<{ id: string; coreHours: number; target: string | undefined }>): BillingInputs => ({
  period: "2026-10", granularitySeconds: 3600, meters: DEFAULT_METERS, prices: PRICES, gnocchiRequests: 0, unbilled: [],
  subscriptions: subs.map((s) => ({
    id: s.id, projectId: `p-${s.id}`, intervals: [],
    usageUnitMs: { cores: unitMs(s.coreHours), ramGb: "0", diskGb: "0", floatingIps: "0" },
    ...(s.target === undefined ? {} : { target: s.target }),
  })),
});

describe("a billing run's totals per target", () => {
  it("each target's total is the exact sum of its invoices, written at the price list's decimals", () => {
    // 0.0125 a core-hour: 1 h is 0.0125 → 0.01 (half-even), 3 h is 0.0375 → 0.04, 100 h is 1.25.
    const inputs = inputsOf([
      { id: "a", coreHours: 1, target: "milan" },
      { id: "b", coreHours: 3, target: "frankfurt" },
      { id: "c", coreHours: 100, target: "milan" },
    ]);
    const totals = runTotals(rateInputs(inputs), inputs, "milan");
    expect(totals).toEqual({
      total: "1.30",
      targetTotals: [
        { target: "frankfurt", currency: "EUR", invoiceCount: 1, total: "0.04" },
        { target: "milan", currency: "EUR", invoiceCount: 2, total: "1.26" },
      ],
    });
  });

  it("never rounds a second time: the lines rounded once add up, where rounding the target's usage would not", () => {
    // Three invoices of 1 core-hour each: 0.01 + 0.01 + 0.01 = 0.03 (rounding 3 × 0.0125 = 0.0375 would give 0.04).
    const inputs = inputsOf(["a", "b", "c"].map((id) => ({ id, coreHours: 1, target: "two" })));
    expect(runTotals(rateInputs(inputs), inputs, "one").targetTotals).toEqual([{ target: "two", currency: "EUR", invoiceCount: 3, total: "0.03" }]);
  });

  it("a subscription whose target was not recorded (a run stored before targets) counts in the default target", () => {
    const inputs = inputsOf([{ id: "old", coreHours: 100, target: undefined }, { id: "new", coreHours: 100, target: "two" }]);
    expect(runTotals(rateInputs(inputs), inputs, "one").targetTotals.map((t) => [t.target, t.total])).toEqual([["one", "1.25"], ["two", "1.25"]]);
  });

  it("invoices in different currencies are totalled apart, one entry per target and currency", () => {
    const inputs = inputsOf([{ id: "a", coreHours: 100, target: "one" }, { id: "b", coreHours: 100, target: "one" }]);
    const [a, b] = rateInputs(inputs);
    const totals = runTotals([a!, { ...b!, currency: "CHF" }], inputs, "one");
    expect(totals.targetTotals).toEqual([
      { target: "one", currency: "CHF", invoiceCount: 1, total: "1.25" },
      { target: "one", currency: "EUR", invoiceCount: 1, total: "1.25" },
    ]);
  });

  it("a run with no invoices has no totals per target and a total of zero", () => {
    expect(runTotals([], inputsOf([]), "one")).toEqual({ total: "0.00", targetTotals: [] });
  });

  it("for any usage spread over any targets, the targets' totals add up to the run's total and count every invoice once", () => {
    const sub = fc.record({ coreHours: fc.integer({ min: 0, max: 1_000_000 }), target: fc.constantFrom("one", "two", "three", undefined) });
    fc.assert(
      fc.property(fc.array(sub, { maxLength: 40 }), (subs) => {
        const inputs = inputsOf(subs.map((s, i) => ({ id: `s${i}`, ...s })));
        const invoices = rateInputs(inputs);
        const { total, targetTotals } = runTotals(invoices, inputs, "one");
        expect(targetTotals.reduce((s, t) => s.plus(t.total), new Decimal(0)).toFixed(PRICES.decimals)).toBe(total);
        expect(targetTotals.reduce((n, t) => n + t.invoiceCount, 0)).toBe(invoices.length);
        for (const t of targetTotals) expect(t.total).toMatch(/^\d+\.\d{2}$/);
      }),
    );
  });
});
