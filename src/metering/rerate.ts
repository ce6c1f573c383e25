import { BilledResource, type Invoice, type IssuedState, type RerateDocuments } from "../domain/billing.js";
import { Decimal } from "./money.js";

/**
 * Re-rating a billed period (CloudKitty's reprocessing): compares each subscription's invoice in force
 * with the charge just computed. Pure. A different charge credits the invoice in force, in full, and issues
 * the next version (nothing left to charge: the credit alone); the same charge issues nothing, so a
 * re-rating never bills anyone twice. "The same" is the money, line by line: a quantity that changed under
 * the free allowance changes no amount and issues no document.
 */
export function rerateDocuments(issued: readonly IssuedState[], fresh: readonly Invoice[]): RerateDocuments {
  const ids = [...new Set([...issued.map((i) => i.invoice.subscriptionId), ...fresh.map((f) => f.subscriptionId)])].sort();
  const out: RerateDocuments = { credits: [], invoices: [], changes: [] };
  for (const subscriptionId of ids) {
    const mine = issued.filter((i) => i.invoice.subscriptionId === subscriptionId);
    const current = mine.filter((i) => !i.credited).sort((a, b) => b.invoice.version - a.invoice.version)[0]?.invoice;
    const lastVersion = Math.max(0, ...mine.map((i) => i.invoice.version));
    const next = fresh.find((f) => f.subscriptionId === subscriptionId);
    const before = current ? { version: current.version, total: current.total } : null;
    if (sameCharge(current, next)) {
      out.changes.push({ subscriptionId, change: "unchanged", before, after: before });
      continue;
    }
    if (current) {
      const { version, ...cancelled } = current;
      out.credits.push({ ...cancelled, cancelsVersion: version });
    }
    const reissued = next && charges(next) ? { ...next, version: lastVersion + 1 } : null;
    if (reissued) out.invoices.push(reissued);
    out.changes.push({
      subscriptionId,
      change: current ? (reissued ? "reissued" : "credited") : "invoiced",
      before,
      after: reissued ? { version: reissued.version, total: reissued.total } : null,
    });
  }
  return out;
}

/** Does this invoice ask for any money? */
function charges(inv: Invoice): boolean {
  return inv.lines.some((l) => new Decimal(l.amount).gt(0));
}

/** The same money per resource (no invoice charges nothing); the currency counts only when something is charged. */
function sameCharge(a: Invoice | undefined, b: Invoice | undefined): boolean {
  const chargedA = a !== undefined && charges(a);
  const chargedB = b !== undefined && charges(b);
  if (!chargedA || !chargedB) return !chargedA && !chargedB;
  if (a.currency !== b.currency) return false;
  const amount = (inv: Invoice, r: BilledResource) => new Decimal(inv.lines.find((l) => l.resource === r)?.amount ?? "0");
  return BilledResource.options.every((r) => amount(a, r).eq(amount(b, r)));
}
