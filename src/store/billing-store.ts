import { z } from "zod";
import { MarketplaceEvent } from "../domain/event.js";
import { DeliveryStatus } from "../metering/billing-delivery.js";
import { BillingInputs, type BillableSubscription, type BillingComputation } from "../metering/billing-run.js";
import { Invoice } from "../metering/rating.js";
import type { Db } from "./db.js";

export const BillingRunRecord = z.object({
  id: z.coerce.number(),
  period: z.string(),
  createdAt: z.string(),
  pricesVersion: z.string(),
  currency: z.string(),
  invoiceCount: z.number(),
  total: z.string(),
  delivery: DeliveryStatus.nullable(),
});
export type BillingRunRecord = z.infer<typeof BillingRunRecord>;

const RUN_COLUMNS = `id, period, prices_version AS "pricesVersion", currency, invoice_count AS "invoiceCount", total, delivery,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt"`;

/** Billing runs, one per period: a second run of the same period returns the first. */
export class BillingStore {
  constructor(
    private readonly db: Db,
    /** Told of a run when it is first saved, inside its transaction (Cloudesire's invoice push is queued there). */
    private readonly hooks: { onRunSaved?: (tx: Db, period: string, invoices: readonly Invoice[]) => Promise<void> } = {},
  ) {}

  /** Every subscription with its Keystone project and its whole event history (for PAYG intervals). */
  async billableSubscriptions(): Promise<BillableSubscription[]> {
    const subs = await this.db.query<{ id: string; project_id: string | null }>(`SELECT id, outputs->>'projectId' AS project_id FROM subscriptions ORDER BY id`);
    const events = await this.db.query<{ subscription_id: string; body: unknown }>(`SELECT subscription_id, body FROM events ORDER BY subscription_id, occurred_at, id`);
    const bySub = new Map<string, MarketplaceEvent[]>();
    for (const e of events) {
      const list = bySub.get(e.subscription_id) ?? [];
      list.push(MarketplaceEvent.parse(typeof e.body === "string" ? JSON.parse(e.body) : e.body));
      bySub.set(e.subscription_id, list);
    }
    return subs.map((s) => ({ id: s.id, projectId: s.project_id, events: bySub.get(s.id) ?? [] }));
  }

  async findByPeriod(period: string): Promise<BillingRunRecord | null> {
    const [row] = await this.db.query(`SELECT ${RUN_COLUMNS} FROM billing_runs WHERE period = $1`, [period]);
    return row ? BillingRunRecord.parse(row) : null;
  }

  /** Stores a computed run unless one exists for the period; returns the stored run and whether it is new. */
  async save(c: BillingComputation, total: string): Promise<{ run: BillingRunRecord; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query<{ id: string | number }>(
        `INSERT INTO billing_runs (period, prices_version, currency, invoice_count, total, inputs)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (period) DO NOTHING RETURNING id`,
        [c.inputs.period, c.inputs.prices.version, c.inputs.prices.currency, c.invoices.length, total, JSON.stringify(c.inputs)],
      );
      const id = inserted[0]?.id;
      if (id !== undefined) {
        for (const inv of c.invoices) {
          await tx.query(`INSERT INTO invoices (run_id, subscription_id, total, currency, lines) VALUES ($1, $2, $3, $4, $5)`, [
            id, inv.subscriptionId, inv.total, inv.currency, JSON.stringify(inv.lines),
          ]);
        }
        await this.hooks.onRunSaved?.(tx, c.inputs.period, c.invoices);
      }
      const [row] = await tx.query(`SELECT ${RUN_COLUMNS} FROM billing_runs WHERE period = $1`, [c.inputs.period]);
      return { run: BillingRunRecord.parse(row), created: id !== undefined };
    });
  }

  /** What is POSTed to the billing URL: the run and its invoices (inputs stay here, on request). */
  async payload(id: number): Promise<unknown> {
    const found = await this.get(id);
    return found ? { run: { ...found.run, delivery: undefined }, invoices: found.invoices } : null;
  }

  async recordDelivery(id: number, status: DeliveryStatus): Promise<void> {
    await this.db.query("UPDATE billing_runs SET delivery = $2 WHERE id = $1", [id, JSON.stringify(status)]);
  }

  async list(): Promise<BillingRunRecord[]> {
    return (await this.db.query(`SELECT ${RUN_COLUMNS} FROM billing_runs ORDER BY period DESC`)).map((r) => BillingRunRecord.parse(r));
  }

  async get(id: number): Promise<{ run: BillingRunRecord; inputs: BillingInputs; invoices: Invoice[] } | null> {
    const [row] = await this.db.query<Record<string, unknown>>(`SELECT ${RUN_COLUMNS}, inputs FROM billing_runs WHERE id = $1`, [id]);
    if (!row) return null;
    const invoices = await this.db.query<{ subscription_id: string; total: string; currency: string; lines: unknown }>(
      `SELECT subscription_id, total, currency, lines FROM invoices WHERE run_id = $1 ORDER BY subscription_id`,
      [id],
    );
    const { inputs, ...run } = row;
    return {
      run: BillingRunRecord.parse(run),
      inputs: BillingInputs.parse(typeof inputs === "string" ? JSON.parse(inputs) : inputs),
      invoices: invoices.map((i) => Invoice.parse({ subscriptionId: i.subscription_id, total: i.total, currency: i.currency, lines: i.lines })),
    };
  }
}
