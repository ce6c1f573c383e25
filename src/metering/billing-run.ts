import { BilledResource, type BillableSubscription, type BillingComputation, type BillingInputs, type CreditNote, type Invoice, type Meters, type PriceList } from "../domain/billing.js";
import type { GnocchiClient } from "./gnocchi-client.js";
import { Decimal } from "./money.js";
import { paygIntervals } from "./payg-intervals.js";
import type { Period } from "./period.js";
import { rate, type Usage } from "./rating.js";
import { integrate, type Point } from "./usage.js";

/**
 * Computes the charges of a period: one Gnocchi request per meter (grouped by project), usage integrated
 * only over each subscription's PAYG-and-active hours, priced once per line.
 */
export async function computeBilling(args: {
  period: Period;
  subscriptions: BillableSubscription[];
  gnocchi: Pick<GnocchiClient, "requests" | "usageByProject">;
  meters: Meters;
  prices: PriceList;
  granularitySeconds: number;
}): Promise<BillingComputation> {
  const { period, meters, prices } = args;
  const billable = args.subscriptions
    .map((s) => ({ ...s, intervals: paygIntervals(s.events, period) }))
    .filter((s) => s.intervals.length > 0);

  const before = args.gnocchi.requests;
  const usageByResource = new Map<BilledResource, Map<string, Point[]>>();
  // Measured whenever there is pay-as-you-go to bill, even if no subscription has a project yet (never
  // provisioned: zero usage, but only Gnocchi can say so): a run that cannot measure fails rather than
  // closing the period on invoices nobody measured (issue 24: "run 1, 0 invoices" without Gnocchi).
  if (billable.length > 0) {
    for (const resource of BilledResource.options) {
      usageByResource.set(resource, await args.gnocchi.usageByProject(meters[resource], period, args.granularitySeconds));
    }
  }

  const subscriptions: BillingInputs["subscriptions"] = billable.map((s) => {
    const usage = Object.fromEntries(
      BilledResource.options.map((r) => {
        const points = s.projectId ? (usageByResource.get(r)?.get(s.projectId) ?? []) : [];
        return [r, integrate(points, s.intervals, meters[r].divisor).toString()];
      }),
    ) as Record<BilledResource, string>;
    return {
      id: s.id,
      projectId: s.projectId,
      intervals: s.intervals.map((i) => ({ start: new Date(i.startMs).toISOString(), stop: new Date(i.stopMs).toISOString() })),
      usageUnitMs: usage,
    };
  });
  const inputs: BillingInputs = {
    period: period.name, granularitySeconds: args.granularitySeconds, meters, prices,
    gnocchiRequests: args.gnocchi.requests - before, subscriptions,
  };
  return { inputs, invoices: rateInputs(inputs) };
}

/** Re-rates stored inputs: the same inputs always give the same invoices. */
export function rateInputs(inputs: BillingInputs): Invoice[] {
  return inputs.subscriptions.map((s) => {
    const usage = Object.fromEntries(BilledResource.options.map((r) => [r, new Decimal(s.usageUnitMs[r] ?? "0")])) as Usage;
    return rate(s.id, usage, inputs.prices, inputs.meters);
  });
}

/**
 * A run's documents as CSV: one row per line, plus a total row per document. `document` says an invoice
 * (its `version`) or a credit note (`version`: the invoice version it cancels); amounts are positive.
 */
export function invoicesCsv(period: string, invoices: ReadonlyArray<Invoice & { version?: number }>, credits: readonly CreditNote[] = []): string {
  const rows = [["period", "subscription", "resource", "unit", "quantity", "free_unit_hours", "unit_price", "amount", "currency", "document", "version"]];
  const docs = [
    ...credits.map((c) => ({ doc: c, document: "credit", version: c.cancelsVersion })),
    ...invoices.map((i) => ({ doc: i, document: "invoice", version: i.version ?? 1 })),
  ];
  for (const { doc, document, version } of docs) {
    const tail = [doc.currency, document, String(version)];
    for (const l of doc.lines) rows.push([period, doc.subscriptionId, l.resource, l.unit, l.quantity, l.freeUnitHours, l.unitPrice, l.amount, ...tail]);
    rows.push([period, doc.subscriptionId, "total", "", "", "", "", doc.total, ...tail]);
  }
  return `${rows.map((r) => r.map(csvCell).join(",")).join("\n")}\n`;
}

/**
 * One CSV cell. A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
 * Excel, LibreOffice Calc and Google Sheets, so it gets a leading `'` (shown as text, never evaluated) and
 * is quoted, as OWASP's "CSV Injection" page recommends (CWE-1236); units and currencies come from files,
 * subscription ids from marketplaces. A cell holding a quote, comma or line break is quoted (RFC 4180).
 */
export function csvCell(value: string): string {
  const neutral = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return neutral !== value || /[",\r\n]/.test(value) ? `"${neutral.replaceAll('"', '""')}"` : value;
}
