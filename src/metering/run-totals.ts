import type { BillingInputs, Invoice, RunTotals, TargetTotal } from "../domain/billing.js";
import { Decimal } from "./money.js";

/**
 * A run's figures from the invoices it issues: its total, and the same invoices totalled per target and
 * currency (issue 33). Pure. Every invoice total is already rounded, once per line (rating.ts), so these
 * are exact sums written at the price list's decimals: no second rule of rounding, and the targets'
 * totals always add up to the run's. Each invoice's target is the one its subscription's usage was
 * measured in, as the run's inputs record it (a run stored before targets: `defaultTarget`).
 */
export function runTotals(invoices: readonly Invoice[], inputs: Pick<BillingInputs, "subscriptions" | "prices">, defaultTarget: string): RunTotals {
  const decimals = inputs.prices.decimals;
  const targetOf = new Map(inputs.subscriptions.map((s) => [s.id, s.target ?? defaultTarget]));
  const groups = new Map<string, { target: string; currency: string; invoices: Invoice[] }>();
  for (const inv of invoices) {
    const target = targetOf.get(inv.subscriptionId) ?? defaultTarget;
    const key = JSON.stringify([target, inv.currency]);
    const group = groups.get(key) ?? { target, currency: inv.currency, invoices: [] };
    group.invoices.push(inv);
    groups.set(key, group);
  }
  const targetTotals: TargetTotal[] = [...groups.values()]
    .sort((a, b) => a.target.localeCompare(b.target) || a.currency.localeCompare(b.currency))
    .map((g) => ({ target: g.target, currency: g.currency, invoiceCount: g.invoices.length, total: sumOf(g.invoices, decimals) }));
  return { total: sumOf(invoices, decimals), targetTotals };
}

/** The exact sum of some invoices' totals, at the price list's decimals. */
function sumOf(invoices: readonly { total: string }[], decimals: number): string {
  return invoices.reduce((s, i) => s.plus(i.total), new Decimal(0)).toFixed(decimals);
}
