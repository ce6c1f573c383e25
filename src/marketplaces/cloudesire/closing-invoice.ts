import type { BillableSubscription, Meters, PriceList } from "../../domain/billing.js";
import { computeBilling } from "../../metering/billing-run.js";
import type { GnocchiClient } from "../../metering/gnocchi-client.js";
import { paygIntervals } from "../../metering/payg-intervals.js";
import { monthsBetween } from "../../metering/period.js";
import type { InvoiceLine } from "./contract.js";
import { invoiceLinesOf } from "./report-back.js";

/** What the closing invoice reads: the subscription's events, Gnocchi, the prices (workers.ts hands them in). */
export interface ClosingBilling {
  subscription(id: string): Promise<BillableSubscription | null>;
  gnocchi: () => Pick<GnocchiClient, "requests" | "usageByProject">;
  /** The Gnocchi of each target that has one of its own (billing-run.ts `gnocchiOf`): a closing invoice reads where a run would. */
  gnocchiOf?: ((target: string) => Pick<GnocchiClient, "requests" | "usageByProject"> | undefined) | undefined;
  meters: Meters;
  prices: PriceList | null;
  granularitySeconds: number;
}

/**
 * The lines of a cancelled PAYG subscription's usage that no billing run invoiced: every month from its
 * first event to its cancellation (`untilMs`) except those already queued by a run (`invoiced`), each
 * rated exactly as a billing run rates it (the same computeBilling, one subscription). Cloudesire takes
 * custom invoices for active subscriptions only (docs/billing.md), so this is pushed before UNDEPLOYED
 * rather than at the month's run. Each line's `purchased` is when its usage ended.
 */
export async function closingInvoiceLines(b: ClosingBilling, id: string, untilMs: number, invoiced: ReadonlySet<string>): Promise<InvoiceLine[]> {
  const sub = await b.subscription(id);
  const first = sub?.events.map((e) => Date.parse(e.occurredAt)).reduce((a, c) => Math.min(a, c), untilMs);
  if (!sub || first === undefined) return [];
  const lines: InvoiceLine[] = [];
  for (const period of monthsBetween(first, untilMs)) {
    if (invoiced.has(period.name) || paygIntervals(sub.events, period).length === 0) continue;
    if (!b.prices) throw new Error(`PRICES_FILE is not configured: the usage of subscription ${id} in ${period.name} cannot be rated`);
    const { invoices } = await computeBilling({ period, subscriptions: [sub], gnocchi: b.gnocchi(), gnocchiOf: b.gnocchiOf, meters: b.meters, prices: b.prices, granularitySeconds: b.granularitySeconds });
    for (const inv of invoices) lines.push(...invoiceLinesOf(period.name, inv, Math.min(untilMs, period.stopMs - 1)));
  }
  return lines;
}
