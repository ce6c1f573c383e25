import { AppError, conflict, unavailable } from "../domain/errors.js";
import type {
  BillableSubscription, BillingComputation, BillingRunRecord, CreditNote, DeliveryStatus, IssuedInvoice, IssuedState, Meters, PriceList, RerateDocuments, RunTotals,
} from "../domain/billing.js";
import { DEFAULT_TARGET_NAME } from "../domain/target.js";
import { computeBilling } from "./billing-run.js";
import type { BillingDeliveries } from "./billing-delivery.js";
import type { GnocchiClient } from "./gnocchi-client.js";
import { periodOf } from "./period.js";
import { rerateDocuments } from "./rerate.js";
import { runTotals } from "./run-totals.js";

/** Where billing runs are kept (store/billing-store.ts); handed in, so metering imports no database. */
export interface BillingRuns {
  billableSubscriptions(): Promise<BillableSubscription[]>;
  findByPeriod(period: string): Promise<BillingRunRecord | null>;
  /** `totals`: the run's total and its totals per target, stored with it. */
  save(c: BillingComputation, totals: RunTotals): Promise<{ run: BillingRunRecord; created: boolean }>;
  /** Null: never billed; `created` false: nothing changed, nothing stored, `run` is the period's newest. */
  saveRerate(c: BillingComputation, decide: (issued: IssuedState[]) => RerateDocuments & RunTotals): Promise<{ run: BillingRunRecord; created: boolean } | null>;
  get(id: number): Promise<{ run: BillingRunRecord; invoices: IssuedInvoice[]; credits: CreditNote[] } | null>;
}

export interface BillingSettings {
  meters: Meters;
  prices: PriceList | null;
  granularitySeconds: number;
}

/** Runs the billing of a closed period once; asking again returns the stored run, never a second bill. */
export class BillingService {
  constructor(
    private readonly runs: BillingRuns,
    private readonly gnocchi: () => GnocchiClient,
    private readonly settings: BillingSettings,
    private readonly o: {
      /** Where finished runs are delivered (BILLING_WEBHOOK_URL): none, nowhere. */
      deliveries?: Pick<BillingDeliveries, "attempt" | "redeliver"> | undefined;
      now?: () => number;
      /** The Gnocchi of each target that has one of its own (billing-run.ts `gnocchiOf`). */
      gnocchiOf?: ((target: string) => GnocchiClient | undefined) | undefined;
      /** The target of the subscriptions whose plan names none (TARGETS_FILE's default); absent: "default". */
      defaultTarget?: string | undefined;
    } = {},
  ) {}

  async run(periodName: string): Promise<{ run: BillingRunRecord; created: boolean }> {
    const period = periodOf(periodName);
    if (period.stopMs > (this.o.now ?? Date.now)()) throw conflict(`period ${periodName} is not over yet: it can be billed from ${new Date(period.stopMs).toISOString()}`);
    const existing = await this.runs.findByPeriod(periodName);
    if (existing) return { run: existing, created: false };
    const prices = this.pricesOrFail();
    // Nothing is stored when usage cannot be measured: the period stays unbilled, to be run again.
    const computation = await this.measure(periodName, prices, "not stored, the period stays unbilled (run it again once usage can be measured)");
    const saved = await this.runs.save(computation, this.totals(computation.invoices, computation));
    if (!saved.created) return saved;
    // The delivery was stored with the run: its first attempt now, the retries by the deliveries' worker.
    await this.o.deliveries?.attempt(saved.run.id);
    return { run: await this.reread(saved.run), created: true };
  }

  /**
   * Re-rates a billed period (CloudKitty's reprocessing): measures it again, rates it with today's price
   * list, and for each subscription whose charge differs issues a credit note of the invoice in force and
   * the next version of it; an unchanged charge gets nothing. A period never billed is refused: it is
   * billed with `run`, so that a re-rating is never anyone's first bill.
   */
  async rerate(periodName: string): Promise<{ run: BillingRunRecord; created: boolean }> {
    periodOf(periodName);
    if (!(await this.runs.findByPeriod(periodName))) throw conflict(`period ${periodName} was never billed: there is nothing to re-rate (bill it first: tenantctl bill --period ${periodName})`);
    const prices = this.pricesOrFail();
    const computation = await this.measure(periodName, prices, "not re-rated, its invoices stand as they were");
    const saved = await this.runs.saveRerate(computation, (issued) => {
      const docs = rerateDocuments(issued, computation.invoices);
      // What the re-rating issues, as its total is: the new invoice versions (per target too).
      return { ...docs, ...this.totals(docs.invoices, computation) };
    });
    if (!saved) throw conflict(`period ${periodName} was never billed: there is nothing to re-rate`);
    // Nothing changed: nothing stored, nothing to deliver; the period's newest run stands.
    if (!saved.created) return saved;
    await this.o.deliveries?.attempt(saved.run.id);
    return { run: await this.reread(saved.run), created: true };
  }

  private totals(invoices: BillingComputation["invoices"], c: BillingComputation): RunTotals {
    return runTotals(invoices, c.inputs, this.o.defaultTarget ?? DEFAULT_TARGET_NAME);
  }

  /** The run as stored now (with its delivery's outcome). */
  private async reread(run: BillingRunRecord): Promise<BillingRunRecord> {
    return (await this.runs.get(run.id))?.run ?? run;
  }

  private pricesOrFail(): PriceList {
    if (!this.settings.prices) throw unavailable("PRICES_FILE is not configured: billing runs need a price list");
    return this.settings.prices;
  }

  /** Measures and rates a period; a failure to measure says what was not done (nothing is stored). */
  private measure(periodName: string, prices: PriceList, notDone: string): Promise<BillingComputation> {
    return this.compute(periodName, prices).catch((e: unknown) => {
      if (!(e instanceof AppError)) throw e;
      throw new AppError(e.kind, `billing of ${periodName} ${notDone}: ${e.message}`, e.detail);
    });
  }

  /** Sends a stored run to the billing URL again now (an operator's redelivery); null: no billing URL, or no such run. */
  async redeliver(id: number): Promise<DeliveryStatus | null> {
    return (await this.o.deliveries?.redeliver(id)) ?? null;
  }

  /** Computes a period from Gnocchi without storing it (reproducibility checks, benchmarks). */
  async compute(periodName: string, prices: PriceList): Promise<BillingComputation> {
    return computeBilling({
      period: periodOf(periodName),
      subscriptions: await this.runs.billableSubscriptions(),
      gnocchi: this.gnocchi(),
      gnocchiOf: this.o.gnocchiOf,
      defaultTarget: this.o.defaultTarget,
      meters: this.settings.meters,
      prices,
      granularitySeconds: this.settings.granularitySeconds,
    });
  }
}
