import {
  BillingInputs, BillingRunRecord, Invoice, type BillableSubscription, type BillingComputation, type DeliveryStatus,
} from "../domain/billing.js";
import { MarketplaceEvent } from "../domain/event.js";
import type { Db } from "./db.js";
import { isoUtc, jsonColumn, pageOf, readPage, whereOf, type Page } from "./sql.js";

const RUN_COLUMNS = `id, period, prices_version AS "pricesVersion", currency, invoice_count AS "invoiceCount", total, delivery,
  ${isoUtc("created_at", "createdAt")}`;
const StoredEvent = jsonColumn(MarketplaceEvent);
const StoredInputs = jsonColumn(BillingInputs);

/** Billing runs, one per period: a second run of the same period returns the first. */
export class BillingStore {
  constructor(
    private readonly db: Db,
    /** Told of a run when it is first saved, inside its transaction (Cloudesire's invoice push is queued there). */
    private readonly hooks: { onRunSaved?: (tx: Db, period: string, invoices: readonly Invoice[]) => Promise<void> } = {},
  ) {}

  /** Every subscription with its Keystone project and its whole event history (for PAYG intervals). */
  async billableSubscriptions(only?: string): Promise<BillableSubscription[]> {
    // `only`: one subscription (a Cloudesire closing invoice), else all (a billing run).
    const params = only === undefined ? [] : [only];
    const subs = await this.db.query<{ id: string; project_id: string | null }>(`SELECT id, outputs->>'projectId' AS project_id FROM subscriptions ${only === undefined ? "" : "WHERE id = $1"} ORDER BY id`, params);
    const events = await this.db.query<{ subscription_id: string; body: unknown }>(`SELECT subscription_id, body FROM events ${only === undefined ? "" : "WHERE subscription_id = $1"} ORDER BY subscription_id, occurred_at, id`, params);
    const bySub = new Map<string, MarketplaceEvent[]>();
    for (const e of events) {
      const list = bySub.get(e.subscription_id) ?? [];
      list.push(StoredEvent.parse(e.body));
      bySub.set(e.subscription_id, list);
    }
    return subs.map((s) => ({ id: s.id, projectId: s.project_id, events: bySub.get(s.id) ?? [] }));
  }

  async findByPeriod(period: string): Promise<BillingRunRecord | null> {
    const [row] = await this.db.query(`SELECT ${RUN_COLUMNS} FROM billing_runs WHERE period = $1`, [period]);
    return row ? BillingRunRecord.parse(row) : null;
  }

  /** The newest month billed ("YYYY-MM" sorts as time does), or null before the first run (a metric). */
  async newestPeriod(): Promise<string | null> {
    const [row] = await this.db.query<{ period: string | null }>("SELECT max(period) AS period FROM billing_runs");
    return row?.period ?? null;
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

  async recordDelivery(id: number, status: DeliveryStatus): Promise<void> {
    await this.db.query("UPDATE billing_runs SET delivery = $2 WHERE id = $1", [id, JSON.stringify(status)]);
  }

  /** A page of runs, newest (highest id) first, after `after` (keyset on the primary key). */
  async page(o: { after?: number | undefined; limit: number }): Promise<Page<BillingRunRecord, number>> {
    const params: unknown[] = [];
    const where = whereOf(params, [o.after === undefined ? undefined : ["id < ?", o.after]]);
    const rows = await readPage<{ id: string | number }>(this.db, `SELECT ${RUN_COLUMNS} FROM billing_runs ${where} ORDER BY id DESC LIMIT $${params.push(o.limit + 1)}`, params);
    return pageOf(rows, o.limit, (r) => BillingRunRecord.parse(r), (r) => Number(r.id));
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
      inputs: StoredInputs.parse(inputs),
      invoices: invoices.map((i) => Invoice.parse({ subscriptionId: i.subscription_id, total: i.total, currency: i.currency, lines: i.lines })),
    };
  }
}
