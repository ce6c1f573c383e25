import { BilledResource, type BillableSubscription, type BillingComputation, type BillingInputs, type CreditNote, type Invoice, type Meters, type PriceList } from "../domain/billing.js";
import { DEFAULT_TARGET_NAME } from "../domain/target.js";
import type { GnocchiClient } from "./gnocchi-client.js";
import { Decimal } from "./money.js";
import { paygIntervals } from "./payg-intervals.js";
import type { Period } from "./period.js";
import { rate, type Usage } from "./rating.js";
import { integrate, type Point } from "./usage.js";

/**
 * Where a target's tenants are measured: its own Gnocchi (`gnocchiOf`), else the default one. Billing runs,
 * Cloudesire's closing invoices and its metric polls all ask this, so a tenant's usage is read in one place.
 */
export function gnocchiOfTarget<T>(target: string | undefined, gnocchiOf: ((target: string) => T | undefined) | undefined, fallback: T): T {
  return (target === undefined ? undefined : gnocchiOf?.(target)) ?? fallback;
}

/**
 * Computes the charges of a period: one Gnocchi request per meter (grouped by project), usage integrated
 * only over each subscription's PAYG-and-active hours, priced once per line.
 */
export async function computeBilling(args: {
  period: Period;
  subscriptions: BillableSubscription[];
  gnocchi: Pick<GnocchiClient, "requests" | "usageByProject">;
  /**
   * The Gnocchi of a target other than the default (TARGETS_FILE's `gnocchiUrl`, or its cloud's catalog);
   * undefined: `gnocchi`. Each target's tenants are measured where their usage is, one request per meter
   * per target.
   */
  gnocchiOf?: ((target: string) => Pick<GnocchiClient, "requests" | "usageByProject"> | undefined) | undefined;
  /** The name of the target a subscription that names none is in (recorded with each one's usage); absent: "default". */
  defaultTarget?: string | undefined;
  meters: Meters;
  prices: PriceList;
  granularitySeconds: number;
}): Promise<BillingComputation> {
  const { period, meters, prices } = args;
  const unbilled = args.subscriptions.flatMap((s) => (s.unreadable === undefined ? [] : [{ subscription: s.id, reason: s.unreadable }]));
  const billable = args.subscriptions
    .filter((s) => s.unreadable === undefined)
    .map((s) => ({ ...s, intervals: paygIntervals(s.events, period) }))
    .filter((s) => s.intervals.length > 0);

  const clientOf = (target: string | undefined) => gnocchiOfTarget(target, args.gnocchiOf, args.gnocchi);
  const clients = [...new Set([args.gnocchi, ...billable.map((s) => clientOf(s.target))])];
  const before = clients.reduce((n, c) => n + c.requests, 0);
  // Per Gnocchi (one per target that has its own), per resource: project -> points.
  const usageByClient = new Map<object, Map<BilledResource, Map<string, Point[]>>>();
  // Measured whenever there is pay-as-you-go to bill, even if no subscription has a project yet (never
  // provisioned: zero usage, but only Gnocchi can say so): a run that cannot measure fails rather than
  // closing the period on invoices nobody measured (issue 24: "run 1, 0 invoices" without Gnocchi).
  for (const client of new Set(billable.map((s) => clientOf(s.target)))) {
    const usageByResource = new Map<BilledResource, Map<string, Point[]>>();
    for (const resource of BilledResource.options) {
      usageByResource.set(resource, await client.usageByProject(meters[resource], period, args.granularitySeconds));
    }
    usageByClient.set(client, usageByResource);
  }

  const subscriptions: BillingInputs["subscriptions"] = billable.map((s) => {
    const usageByResource = usageByClient.get(clientOf(s.target));
    const usage = Object.fromEntries(
      BilledResource.options.map((r) => {
        const points = s.projectId ? (usageByResource?.get(r)?.get(s.projectId) ?? []) : [];
        return [r, integrate(points, s.intervals, meters[r].divisor).toString()];
      }),
    ) as Record<BilledResource, string>;
    return {
      id: s.id,
      projectId: s.projectId,
      intervals: s.intervals.map((i) => ({ start: new Date(i.startMs).toISOString(), stop: new Date(i.stopMs).toISOString() })),
      usageUnitMs: usage,
      target: s.target ?? args.defaultTarget ?? DEFAULT_TARGET_NAME,
    };
  });
  const inputs: BillingInputs = {
    period: period.name, granularitySeconds: args.granularitySeconds, meters, prices,
    gnocchiRequests: clients.reduce((n, c) => n + c.requests, 0) - before, subscriptions, unbilled,
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
