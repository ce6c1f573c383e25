import {
  BillingInputs, BillingRunRecord, CreditNote, InvoiceLine, IssuedInvoice, type BillableSubscription, type BillingComputation, type DeliveryStatus,
  type Invoice, type IssuedState, type RerateDocuments, type RunTotals,
} from "../domain/billing.js";
import { UnreadableRecord } from "../domain/errors.js";
import { MarketplaceEvent } from "../domain/event.js";
import type { Db } from "./db.js";
import { isoUtc, jsonColumn, pageOf, readPage, whereOf, type Page } from "./sql.js";
import { reasonOf } from "./unreadable.js";

const RUN_COLUMNS = `id, period, kind, changes, prices_version AS "pricesVersion", currency, invoice_count AS "invoiceCount", total, target_totals AS "targetTotals", delivery,
  coalesce(inputs->'unbilled', '[]'::jsonb) AS unbilled,
  ${isoUtc("created_at", "createdAt")}`;
const StoredEvent = jsonColumn(MarketplaceEvent);
const StoredInputs = jsonColumn(BillingInputs);

/** A stored document: an invoice (its version) or a credit note (the version it cancels). */
interface DocumentRow { subscription_id: string; kind: "invoice" | "credit"; version: number; total: string; currency: string; lines: unknown }
const StoredLines = jsonColumn(InvoiceLine.array());

/**
 * Billing runs: one `bill` per period (a second one returns the first), then `rerate` runs of it, each
 * crediting and re-issuing what changed. Invoices are versioned per (period, subscription).
 */
export class BillingStore {
  constructor(
    private readonly db: Db,
    /** Told of a run when it is first saved, inside its transaction (Cloudesire's invoice push is queued there). */
    private readonly hooks: {
      onRunSaved?: (tx: Db, period: string, invoices: readonly Invoice[]) => Promise<void>;
      /** Told of a re-rating's documents, inside the transaction that saves them. */
      onRerateSaved?: (tx: Db, period: string, docs: Pick<RerateDocuments, "credits" | "invoices">) => Promise<void>;
    } = {},
    /** Runs are delivered to a billing URL (BILLING_WEBHOOK_URL): each run's delivery is stored with it, waiting. */
    private readonly o: { deliver?: boolean } = {},
  ) {}

  /** Every subscription with its Keystone project and its whole event history (for PAYG intervals). */
  async billableSubscriptions(only?: string): Promise<BillableSubscription[]> {
    // `only`: one subscription (a Cloudesire closing invoice), else all (a billing run).
    const params = only === undefined ? [] : [only];
    const subs = await this.db.query<{ id: string; project_id: string | null; target: string | null }>(`SELECT id, outputs->>'projectId' AS project_id, desired->'plan'->>'target' AS target FROM subscriptions ${only === undefined ? "" : "WHERE id = $1"} ORDER BY id`, params);
    const events = await this.db.query<{ subscription_id: string; body: unknown }>(`SELECT subscription_id, body FROM events ${only === undefined ? "" : "WHERE subscription_id = $1"} ORDER BY subscription_id, occurred_at, id`, params);
    const bySub = new Map<string, MarketplaceEvent[]>();
    // A history this version cannot read sets its subscription aside (named in the run), not the month's run (issue 31).
    const unreadable = new Map<string, string>();
    for (const e of events) {
      const parsed = StoredEvent.safeParse(e.body);
      if (!parsed.success) {
        if (!unreadable.has(e.subscription_id)) unreadable.set(e.subscription_id, `a stored event cannot be read: ${reasonOf(parsed.error)}`);
        continue;
      }
      const list = bySub.get(e.subscription_id) ?? [];
      list.push(parsed.data);
      bySub.set(e.subscription_id, list);
    }
    return subs.map((s) => {
      const target = s.target ? { target: s.target } : {};
      const reason = unreadable.get(s.id);
      if (reason === undefined) return { id: s.id, projectId: s.project_id, events: bySub.get(s.id) ?? [], ...target };
      // One subscription asked for by name (a closing invoice) fails visibly and is tried again once repaired.
      if (only !== undefined) throw new UnreadableRecord(s.id, reason);
      return { id: s.id, projectId: s.project_id, events: [], unreadable: reason, ...target };
    });
  }

  async findByPeriod(period: string): Promise<BillingRunRecord | null> {
    const [row] = await this.db.query(`SELECT ${RUN_COLUMNS} FROM billing_runs WHERE period = $1 AND kind = 'bill'`, [period]);
    return row ? BillingRunRecord.parse(row) : null;
  }

  /** The newest month billed ("YYYY-MM" sorts as time does), or null before the first run (a metric). */
  async newestPeriod(): Promise<string | null> {
    const [row] = await this.db.query<{ period: string | null }>("SELECT max(period) AS period FROM billing_runs");
    return row?.period ?? null;
  }

  /** Stores a computed run (with its totals) unless one exists for the period; returns the stored run and whether it is new. */
  async save(c: BillingComputation, totals: RunTotals): Promise<{ run: BillingRunRecord; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query<{ id: string | number }>(
        `INSERT INTO billing_runs (period, prices_version, currency, invoice_count, total, target_totals, inputs, delivery_state, delivery_next_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) ON CONFLICT (period) WHERE kind = 'bill' DO NOTHING RETURNING id`,
        [c.inputs.period, c.inputs.prices.version, c.inputs.prices.currency, c.invoices.length, totals.total, JSON.stringify(totals.targetTotals), JSON.stringify(c.inputs),
          this.o.deliver ? "waiting" : null],
      );
      const id = inserted[0]?.id;
      if (id !== undefined) {
        await this.insertDocuments(tx, id, c.inputs.period, "invoice", c.invoices.map((inv) => ({ ...inv, version: 1 })));
        await this.hooks.onRunSaved?.(tx, c.inputs.period, c.invoices);
      }
      const [row] = await tx.query(`SELECT ${RUN_COLUMNS} FROM billing_runs WHERE period = $1 AND kind = 'bill'`, [c.inputs.period]);
      return { run: BillingRunRecord.parse(row), created: id !== undefined };
    });
  }

  /**
   * Saves a re-rating of a billed period: `decide` sees every invoice issued for it (with whether it was
   * credited) and returns the documents to issue. The period's `bill` run is locked meanwhile, so two
   * re-ratings at once take turns and never credit the same version twice. Null: the period was never billed.
   */
  async saveRerate(c: BillingComputation, decide: (issued: IssuedState[]) => RerateDocuments & RunTotals): Promise<{ run: BillingRunRecord; created: boolean } | null> {
    const period = c.inputs.period;
    return this.db.transaction(async (tx) => {
      const [bill] = await tx.query(`SELECT id FROM billing_runs WHERE period = $1 AND kind = 'bill' FOR UPDATE`, [period]);
      if (!bill) return null;
      const rows = await tx.query<DocumentRow>(`SELECT subscription_id, kind, version, total, currency, lines FROM invoices WHERE period = $1`, [period]);
      const credited = new Set(rows.filter((r) => r.kind === "credit").map((r) => `${r.subscription_id}/${r.version}`));
      const issued = rows.filter((r) => r.kind === "invoice").map((r) => ({ invoice: IssuedInvoice.parse(documentOf(r)), credited: credited.has(`${r.subscription_id}/${r.version}`) }));
      const docs = decide(issued);
      if (docs.credits.length === 0 && docs.invoices.length === 0) {
        // Nothing changed: no run is stored (8 re-ratings at once stored 8 runs, 7 empty: issue 31); the
        // period's newest run stands.
        const [newest] = await tx.query(`SELECT ${RUN_COLUMNS} FROM billing_runs WHERE period = $1 ORDER BY id DESC LIMIT 1`, [period]);
        return { run: BillingRunRecord.parse(newest), created: false };
      }
      const [inserted] = await tx.query<{ id: string | number }>(
        `INSERT INTO billing_runs (period, kind, changes, prices_version, currency, invoice_count, total, target_totals, inputs, delivery_state, delivery_next_at)
         VALUES ($1, 'rerate', $2, $3, $4, $5, $6, $7, $8, $9, now()) RETURNING id`,
        [period, JSON.stringify(docs.changes), c.inputs.prices.version, c.inputs.prices.currency, docs.invoices.length, docs.total, JSON.stringify(docs.targetTotals),
          JSON.stringify(c.inputs), this.o.deliver ? "waiting" : null],
      );
      const id = inserted?.id as string | number;
      await this.insertDocuments(tx, id, period, "credit", docs.credits.map(({ cancelsVersion, ...d }) => ({ ...d, version: cancelsVersion })));
      await this.insertDocuments(tx, id, period, "invoice", docs.invoices);
      await this.hooks.onRerateSaved?.(tx, period, docs);
      const [row] = await tx.query(`SELECT ${RUN_COLUMNS} FROM billing_runs WHERE id = $1`, [id]);
      return { run: BillingRunRecord.parse(row), created: true };
    });
  }

  private async insertDocuments(tx: Db, runId: string | number, period: string, kind: DocumentRow["kind"], docs: readonly IssuedInvoice[]): Promise<void> {
    for (const d of docs) {
      await tx.query(`INSERT INTO invoices (run_id, period, subscription_id, kind, version, total, currency, lines) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
        runId, period, d.subscriptionId, kind, d.version, d.total, d.currency, JSON.stringify(d.lines),
      ]);
    }
  }

  /** Runs whose delivery waits and is due, the longest waiting first. */
  async dueDeliveries(limit: number): Promise<number[]> {
    const rows = await this.db.query<{ id: string | number }>(
      `SELECT id FROM billing_runs WHERE delivery_state = 'waiting' AND delivery_next_at <= now() ORDER BY delivery_next_at, id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => Number(r.id));
  }

  async deliveryOf(id: number): Promise<{ state: "waiting" | "delivered" | "dead"; attempts: number; due: boolean } | null> {
    const [row] = await this.db.query<{ state: "waiting" | "delivered" | "dead" | null; attempts: number; due: boolean }>(
      `SELECT delivery_state AS state, delivery_attempts AS attempts, delivery_next_at <= now() AS due FROM billing_runs WHERE id = $1`,
      [id],
    );
    return row?.state ? { state: row.state, attempts: row.attempts, due: row.due } : null;
  }

  /** An attempt's outcome: waiting again after `retryInMs`, delivered, or dead (a `failed` status). */
  async recordAttempt(id: number, status: DeliveryStatus, retryInMs: number | null): Promise<void> {
    const state = status.status === "delivered" ? "delivered" : retryInMs === null ? "dead" : "waiting";
    await this.db.query(
      `UPDATE billing_runs SET delivery = $2, delivery_state = $3, delivery_attempts = $4,
         delivery_next_at = CASE WHEN $3 = 'waiting' THEN now() + make_interval(secs => $5::float8 / 1000) ELSE NULL END
       WHERE id = $1`,
      [id, JSON.stringify(status), state, status.attempts, retryInMs ?? 0],
    );
  }

  /** An operator's redelivery: waiting now, with a fresh count of attempts. False: no such run. */
  async requeueDelivery(id: number): Promise<boolean> {
    const rows = await this.db.query(`UPDATE billing_runs SET delivery_state = 'waiting', delivery_attempts = 0, delivery_next_at = now() WHERE id = $1 RETURNING id`, [id]);
    return rows.length === 1;
  }

  /** Deliveries at a glance (metrics): waiting for an attempt, dead, and how long the oldest waiting one has waited. */
  async deliveryStats(): Promise<{ waiting: number; dead: number; oldestWaitingSeconds: number }> {
    const [row] = await this.db.query<{ waiting: string; dead: string; oldest: number | null }>(
      `SELECT count(*) FILTER (WHERE delivery_state = 'waiting') AS waiting, count(*) FILTER (WHERE delivery_state = 'dead') AS dead,
         EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE delivery_state = 'waiting'))::float8 AS oldest
       FROM billing_runs WHERE delivery_state IN ('waiting', 'dead')`,
    );
    return { waiting: Number(row?.waiting ?? 0), dead: Number(row?.dead ?? 0), oldestWaitingSeconds: Number(row?.oldest ?? 0) };
  }

  /** A page of runs, newest (highest id) first, after `after` (keyset on the primary key). */
  async page(o: { after?: number | undefined; limit: number }): Promise<Page<BillingRunRecord, number>> {
    const params: unknown[] = [];
    const where = whereOf(params, [o.after === undefined ? undefined : ["id < ?", o.after]]);
    const rows = await readPage<{ id: string | number }>(this.db, `SELECT ${RUN_COLUMNS} FROM billing_runs ${where} ORDER BY id DESC LIMIT $${params.push(o.limit + 1)}`, params);
    return pageOf(rows, o.limit, (r) => BillingRunRecord.parse(r), (r) => Number(r.id));
  }

  /** A run with the invoices it issued and the credit notes of a re-rating (none for a `bill`). */
  async get(id: number): Promise<{ run: BillingRunRecord; inputs: BillingInputs; invoices: IssuedInvoice[]; credits: CreditNote[] } | null> {
    const [row] = await this.db.query<Record<string, unknown>>(`SELECT ${RUN_COLUMNS}, inputs FROM billing_runs WHERE id = $1`, [id]);
    if (!row) return null;
    const docs = await this.db.query<DocumentRow>(`SELECT subscription_id, kind, version, total, currency, lines FROM invoices WHERE run_id = $1 ORDER BY subscription_id`, [id]);
    const { inputs, ...run } = row;
    return {
      run: BillingRunRecord.parse(run),
      inputs: StoredInputs.parse(inputs),
      invoices: docs.filter((d) => d.kind === "invoice").map((d) => IssuedInvoice.parse(documentOf(d))),
      credits: docs.filter((d) => d.kind === "credit").map(({ version, ...d }) => CreditNote.parse({ ...documentOf({ ...d, version }), cancelsVersion: version })),
    };
  }
}

function documentOf(r: DocumentRow): IssuedInvoice {
  return { subscriptionId: r.subscription_id, version: r.version, total: r.total, currency: r.currency, lines: StoredLines.parse(r.lines) };
}
