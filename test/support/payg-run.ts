import { DEFAULT_METERS, type BillingComputation, type BillingInputs, type RunTotals } from "../../src/domain/billing.js";
import { DEFAULT_TARGET_NAME } from "../../src/domain/target.js";
import { rateInputs } from "../../src/metering/billing-run.js";
import { Decimal, MS_PER_HOUR } from "../../src/metering/money.js";
import { runTotals } from "../../src/metering/run-totals.js";
import { PRICES } from "./prices.js";

/**
 * A finished billing run's computation for PAYG subscriptions, as Gnocchi would have given it: usage in
 * unit-hours per resource (the rating is the real one). For tests of what happens after a run is saved.
 */
export function paygRun(period: string, usageHours: Record<string, { cores: number; ramGb: number; diskGb: number; floatingIps: number }>): { computation: BillingComputation; totals: RunTotals } {
  const unitMs = (h: number) => new Decimal(h).times(MS_PER_HOUR).toString();
  const inputs: BillingInputs = {
    period, granularitySeconds: 3600, meters: DEFAULT_METERS, prices: PRICES, gnocchiRequests: 0, unbilled: [],
    subscriptions: Object.entries(usageHours).map(([id, u]) => ({
      id, projectId: `project-of-sub-${id}`, intervals: [],
      usageUnitMs: { cores: unitMs(u.cores), ramGb: unitMs(u.ramGb), diskGb: unitMs(u.diskGb), floatingIps: unitMs(u.floatingIps) },
    })),
  };
  const invoices = rateInputs(inputs);
  return { computation: { inputs, invoices }, totals: runTotals(invoices, inputs, DEFAULT_TARGET_NAME) };
}
