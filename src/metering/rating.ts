import { BilledResource, type Invoice, type InvoiceLine, type Meters, type PriceList } from "../domain/billing.js";
import { Decimal, MS_PER_HOUR } from "./money.js";
import { ROUNDING } from "./prices.js";

/** Exact usage of one subscription over a period, per resource, in unit-milliseconds. */
export type Usage = Record<BilledResource, Decimal>;

/**
 * Prices usage. Pure. Each line: billable = max(0, hours − free) × unit price, rounded once to the
 * currency's decimals with the configured mode; the total is the exact sum of the rounded lines.
 */
export function rate(subscriptionId: string, usage: Usage, prices: PriceList, meters: Meters): Invoice {
  const mode = ROUNDING[prices.rounding];
  const lines = BilledResource.options.map((resource): InvoiceLine => {
    const hours = usage[resource].div(MS_PER_HOUR);
    const price = prices.resources[resource];
    const billable = Decimal.max(0, hours.minus(price.freeUnitHours));
    const amount = billable.times(price.unitPrice).toDecimalPlaces(prices.decimals, mode);
    return {
      resource,
      unit: meters[resource].unit,
      quantity: hours.toDecimalPlaces(6, Decimal.ROUND_HALF_EVEN).toFixed(6),
      freeUnitHours: new Decimal(price.freeUnitHours).toString(),
      unitPrice: new Decimal(price.unitPrice).toString(),
      amount: amount.toFixed(prices.decimals),
    };
  });
  const total = lines.reduce((sum, l) => sum.plus(l.amount), new Decimal(0));
  return { subscriptionId, currency: prices.currency, lines, total: total.toFixed(prices.decimals) };
}
