import { AppError, conflict, unavailable } from "../domain/errors.js";
import type { BillableSubscription, BillingComputation, BillingRunRecord, DeliveryStatus, Invoice, Meters, PriceList } from "../domain/billing.js";
import { computeBilling } from "./billing-run.js";
import { deliver, type DeliveryTarget } from "./billing-delivery.js";
import type { GnocchiClient } from "./gnocchi-client.js";
import { Decimal } from "./money.js";
import { periodOf } from "./period.js";

/** Where billing runs are kept (store/billing-store.ts); handed in, so metering imports no database. */
export interface BillingRuns {
  billableSubscriptions(): Promise<BillableSubscription[]>;
  findByPeriod(period: string): Promise<BillingRunRecord | null>;
  save(c: BillingComputation, total: string): Promise<{ run: BillingRunRecord; created: boolean }>;
  get(id: number): Promise<{ run: BillingRunRecord; invoices: Invoice[] } | null>;
  recordDelivery(id: number, status: DeliveryStatus): Promise<void>;
}

export interface BillingSettings {
  meters: Meters;
  prices: PriceList | null;
  granularitySeconds: number;
  /** Where finished runs are POSTed, if anywhere. */
  delivery?: DeliveryTarget | null;
}

/** Runs the billing of a closed period once; asking again returns the stored run, never a second bill. */
export class BillingService {
  constructor(
    private readonly runs: BillingRuns,
    private readonly gnocchi: () => GnocchiClient,
    private readonly settings: BillingSettings,
    private readonly now: () => number = Date.now,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async run(periodName: string): Promise<{ run: BillingRunRecord; created: boolean }> {
    const period = periodOf(periodName);
    if (period.stopMs > this.now()) throw conflict(`period ${periodName} is not over yet: it can be billed from ${new Date(period.stopMs).toISOString()}`);
    const existing = await this.runs.findByPeriod(periodName);
    if (existing) return { run: existing, created: false };
    const prices = this.settings.prices;
    if (!prices) throw unavailable("PRICES_FILE is not configured: billing runs need a price list");
    // Nothing is stored when usage cannot be measured: the period stays unbilled, to be run again.
    const computation = await this.compute(periodName, prices).catch((e: unknown) => {
      if (!(e instanceof AppError)) throw e;
      throw new AppError(e.kind, `billing of ${periodName} not stored, the period stays unbilled (run it again once usage can be measured): ${e.message}`, e.detail);
    });
    const total = computation.invoices.reduce((s, i) => s.plus(i.total), new Decimal(0)).toFixed(prices.decimals);
    const saved = await this.runs.save(computation, total);
    if (saved.created) await this.deliver(saved.run.id);
    return saved;
  }

  /** Sends a stored run to the billing URL (again); the outcome is recorded with the run. */
  async deliver(id: number): Promise<DeliveryStatus | null> {
    const target = this.settings.delivery;
    if (!target) return null;
    const found = await this.runs.get(id);
    // The run and its invoices; the inputs stay with us (GET /v1/billing-runs/{id} shows them).
    const payload = found ? { run: { ...found.run, delivery: undefined }, invoices: found.invoices } : null;
    const status = await deliver(target, payload, this.fetchImpl);
    await this.runs.recordDelivery(id, status);
    return status;
  }

  /** Computes a period from Gnocchi without storing it (reproducibility checks, benchmarks). */
  async compute(periodName: string, prices: PriceList): Promise<BillingComputation> {
    return computeBilling({
      period: periodOf(periodName),
      subscriptions: await this.runs.billableSubscriptions(),
      gnocchi: this.gnocchi(),
      meters: this.settings.meters,
      prices,
      granularitySeconds: this.settings.granularitySeconds,
    });
  }
}
