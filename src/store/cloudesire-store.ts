import { z } from "zod";
import { OutboxCall, Reported, failureReport, reportFor, type OperationOutcome, type ReportSettings } from "../marketplaces/cloudesire/report-back.js";
import { Decimal } from "../metering/money.js";
import type { Invoice } from "../metering/rating.js";
import type { Db } from "./db.js";

const TS = (col: string, as: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "${as}"`;
const json = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (typeof v === "string" ? JSON.parse(v) : v), schema);

/** done: sent, or skipped (nothing left to say); dead: refused by Cloudesire; held: outcome unknown, an operator decides. */
export const OutboxState = z.enum(["pending", "sending", "sent", "skipped", "dead", "held"]);
export type OutboxState = z.infer<typeof OutboxState>;

export const OutboxRow = z.object({
  id: z.coerce.number(),
  subscriptionId: z.string(),
  lane: z.enum(["lifecycle", "invoice"]),
  call: json(OutboxCall),
  state: OutboxState,
  attempts: z.number(),
  nextAt: z.string(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
});
export type OutboxRow = z.infer<typeof OutboxRow>;
const OUTBOX_COLUMNS = `id, subscription_id AS "subscriptionId", lane, body AS call, state, attempts, last_error AS "lastError",
  ${TS("next_at", "nextAt")}, ${TS("created_at", "createdAt")}, ${TS("sent_at", "sentAt")}`;

/** The last read of a subscription, as shown to operators. */
export const LastRead = z.object({ at: z.string(), deploymentStatus: z.string(), paid: z.boolean().nullable(), type: z.string().nullable(), verdict: z.string() });
export type LastRead = z.infer<typeof LastRead>;

export const SyncRecord = z.object({
  id: z.string(),
  wanted: z.number(),
  synced: z.number(),
  attempts: z.number(),
  deleted: z.boolean(),
  reads: z.number(),
  dueAt: z.string(),
  lastRead: json(LastRead.nullable()),
  lastError: z.string().nullable(),
  reported: json(Reported),
});
export type SyncRecord = z.infer<typeof SyncRecord>;
const SYNC_COLUMNS = `id, wanted, synced, attempts, deleted, reads, last_read AS "lastRead", last_error AS "lastError", reported, ${TS("due_at", "dueAt")}`;

/**
 * Cloudesire's side of the store: notifications, the read each subscription waits for (a small durable
 * queue: `wanted` counts requests, `synced` the request the last finished read answered), and the outbox
 * of calls back, written in the same transaction as the state they report.
 */
export class CloudesireStore {
  constructor(
    private readonly db: Db,
    private readonly settings: ReportSettings,
  ) {}

  /**
   * Stores a notification and, for a subscription, asks for a read of it, in one transaction: once this
   * returns (and we answer 204) the read will happen, across crashes.
   */
  async recordNotification(n: { entity: string; entityId: string; type: string; body: unknown; subscription: string | null; ignored: string | null }): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`INSERT INTO cloudesire_notifications (entity, entity_id, type, body, ignored) VALUES ($1, $2, $3, $4, $5)`, [
        n.entity, n.entityId, n.type, JSON.stringify(n.body), n.ignored,
      ]);
      if (n.subscription) await this.want(tx, n.subscription, n.type === "DELETED");
    });
  }

  /** Asks for a read now (an operator's `cloudesire sync`). */
  async requestSync(id: string): Promise<void> {
    await this.want(this.db, id, false);
  }

  private async want(q: Pick<Db, "query">, id: string, deleted: boolean): Promise<void> {
    await q.query(
      `INSERT INTO cloudesire_subscriptions (id, deleted) VALUES ($1, $2)
       ON CONFLICT (id) DO UPDATE SET wanted = cloudesire_subscriptions.wanted + 1, due_at = now(), attempts = 0,
         deleted = cloudesire_subscriptions.deleted OR EXCLUDED.deleted, updated_at = now()`,
      [id, deleted],
    );
  }

  async get(id: string): Promise<SyncRecord | null> {
    const [row] = await this.db.query(`SELECT ${SYNC_COLUMNS} FROM cloudesire_subscriptions WHERE id = $1`, [id]);
    return row ? SyncRecord.parse(row) : null;
  }

  /** Subscriptions whose read is wanted and due. */
  async due(limit = 20): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM cloudesire_subscriptions WHERE wanted > synced AND due_at <= now() ORDER BY due_at, id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /** Numbers the next read (reads of one subscription happen one at a time: the worker holds its lock). */
  async nextRead(id: string): Promise<number> {
    const [row] = await this.db.query<{ reads: number }>(`UPDATE cloudesire_subscriptions SET reads = reads + 1 WHERE id = $1 RETURNING reads`, [id]);
    return row?.reads ?? 0;
  }

  /** The read that answered request `wanted` is done (a request made during the read keeps it due). */
  async finishRead(id: string, wanted: number, lastRead: LastRead): Promise<void> {
    await this.db.query(
      `UPDATE cloudesire_subscriptions SET synced = GREATEST(synced, $2), attempts = 0, last_read = $3, last_error = NULL, updated_at = now() WHERE id = $1`,
      [id, wanted, JSON.stringify(lastRead)],
    );
  }

  /** The read failed (Cloudesire down, a timeout): tried again after an exponential back-off, never dropped. */
  async failRead(id: string, error: string, backoffMs: number, maxBackoffMs: number): Promise<void> {
    await this.db.query(
      `UPDATE cloudesire_subscriptions SET attempts = attempts + 1, last_error = $2, updated_at = now(),
         due_at = now() + make_interval(secs => LEAST($4::float8, $3::float8 * power(2, attempts)) / 1000)
       WHERE id = $1`,
      [id, error, backoffMs, maxBackoffMs],
    );
  }

  /**
   * A subscription we refuse (quantities over the limits, a missing billing item): the customer is told
   * why, once per reason, in the same transaction as the record of having said it.
   */
  async reportRefusal(id: string, reason: string, current: { desired: Parameters<typeof failureReport>[2]; outputs: Parameters<typeof failureReport>[3] }): Promise<void> {
    await this.db.transaction(async (tx) => {
      const reported = await this.reportedOf(tx, id);
      if (!reported || reported.failure === reason) return;
      const { calls, reported: next } = failureReport(reason, reported, current.desired, current.outputs, this.settings);
      await this.enqueue(tx, id, "lifecycle", calls);
      await tx.query(`UPDATE cloudesire_subscriptions SET reported = $2 WHERE id = $1`, [id, JSON.stringify(next)]);
    });
  }

  /** A termination of a subscription that never had a tenant: confirmed at once. */
  async reportUndeployed(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const reported = await this.reportedOf(tx, id);
      if (!reported || reported.status === "UNDEPLOYED") return;
      await this.enqueue(tx, id, "lifecycle", [{ kind: "status", deploymentStatus: "UNDEPLOYED" }]);
      await tx.query(`UPDATE cloudesire_subscriptions SET reported = $2 WHERE id = $1`, [id, JSON.stringify({ ...reported, status: "UNDEPLOYED" })]);
    });
  }

  /**
   * The outcome hook of stack operations (SubscriptionStore calls it inside the transaction that records
   * the outcome): a Cloudesire subscription's report-back is queued with it, or not at all.
   */
  readonly onOperationOutcome = async (tx: Db, outcome: OperationOutcome): Promise<void> => {
    const reported = await this.reportedOf(tx, outcome.subscription.id);
    if (!reported) return; // not sold through Cloudesire
    const { calls, reported: next } = reportFor(outcome, reported, this.settings);
    if (calls.length === 0) return;
    await this.enqueue(tx, outcome.subscription.id, "lifecycle", calls);
    await tx.query(`UPDATE cloudesire_subscriptions SET reported = $2 WHERE id = $1`, [outcome.subscription.id, JSON.stringify(next)]);
  };

  /**
   * The billing hook (BillingStore calls it inside the transaction that saves a run): each Cloudesire
   * subscription's invoice of the period is queued once — the unique key (subscription, period) keeps a
   * re-run or a retry from queueing it twice.
   */
  readonly onBillingRunSaved = async (tx: Db, period: string, invoices: readonly Invoice[]): Promise<void> => {
    for (const inv of invoices) {
      const lines = invoiceLinesOf(period, inv);
      if (lines.length === 0) continue;
      await tx.query(
        `INSERT INTO cloudesire_outbox (subscription_id, lane, kind, body, dedupe_key)
         SELECT $1, 'invoice', 'invoice', $2, $3 WHERE EXISTS (SELECT 1 FROM cloudesire_subscriptions WHERE id = $1)
         ON CONFLICT (subscription_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`,
        [inv.subscriptionId, JSON.stringify({ kind: "invoice", period, lines } satisfies OutboxCall), `invoice:${period}`],
      );
    }
  };

  private async reportedOf(tx: Db, id: string): Promise<Reported | null> {
    const [row] = await tx.query<{ reported: unknown }>(`SELECT reported FROM cloudesire_subscriptions WHERE id = $1 FOR UPDATE`, [id]);
    return row ? json(Reported).parse(row.reported) : null;
  }

  private async enqueue(tx: Db, id: string, lane: "lifecycle" | "invoice", calls: readonly OutboxCall[]): Promise<void> {
    if (calls.length === 0) return;
    await tx.query(
      `INSERT INTO cloudesire_outbox (subscription_id, lane, kind, body)
       SELECT $1, $2, c->>'kind', c FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(c, n) ORDER BY n`,
      [id, lane, JSON.stringify(calls)],
    );
  }

  /**
   * Calls ready to go: the first unfinished call of each (subscription, lane), when due. A call waits for
   * every earlier one of its lane (DEPLOYED never goes before the credentials); a dead or held call stops
   * its lane until an operator resolves it.
   */
  async dueCalls(limit = 20): Promise<OutboxRow[]> {
    const rows = await this.db.query(
      `SELECT ${OUTBOX_COLUMNS} FROM cloudesire_outbox o
       WHERE o.state IN ('pending', 'sending') AND o.next_at <= now()
         AND NOT EXISTS (SELECT 1 FROM cloudesire_outbox p WHERE p.subscription_id = o.subscription_id AND p.lane = o.lane
                         AND p.id < o.id AND p.state NOT IN ('sent', 'skipped'))
       ORDER BY o.next_at, o.id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => OutboxRow.parse(r));
  }

  async call(id: number): Promise<OutboxRow | null> {
    const [row] = await this.db.query(`SELECT ${OUTBOX_COLUMNS} FROM cloudesire_outbox WHERE id = $1`, [id]);
    return row ? OutboxRow.parse(row) : null;
  }

  /** Marked before the call leaves: a row found `sending` later was interrupted, its outcome unknown. */
  async markSending(id: number): Promise<void> {
    await this.db.query(`UPDATE cloudesire_outbox SET state = 'sending', attempts = attempts + 1 WHERE id = $1`, [id]);
  }

  /** A call's end; the last error of earlier attempts stays visible on a call that finally landed. */
  async finish(id: number, state: "sent" | "skipped" | "dead" | "held", error: string | null): Promise<void> {
    await this.db.query(
      `UPDATE cloudesire_outbox SET state = $2, last_error = COALESCE($3, last_error), sent_at = CASE WHEN $2 IN ('sent', 'skipped') THEN now() ELSE sent_at END WHERE id = $1`,
      [id, state, error],
    );
  }

  async retryLater(id: number, error: string, backoffMs: number, maxBackoffMs: number): Promise<void> {
    await this.db.query(
      `UPDATE cloudesire_outbox SET state = 'pending', last_error = $2,
         next_at = now() + make_interval(secs => LEAST($4::float8, $3::float8 * power(2, GREATEST(attempts - 1, 0))) / 1000)
       WHERE id = $1`,
      [id, error, backoffMs, maxBackoffMs],
    );
  }

  /** An operator's decision on a dead or held call: send it again, or record that it landed. */
  async resolve(id: number, action: "resend" | "sent"): Promise<OutboxRow | null> {
    const [row] = await this.db.query(
      `UPDATE cloudesire_outbox SET state = CASE WHEN $2 = 'resend' THEN 'pending' ELSE 'sent' END, next_at = now(),
         last_error = CASE WHEN $2 = 'resend' THEN last_error ELSE concat('marked sent by an operator; was: ', last_error) END,
         sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END
       WHERE id = $1 AND state IN ('dead', 'held') RETURNING ${OUTBOX_COLUMNS}`,
      [id, action],
    );
    return row ? OutboxRow.parse(row) : null;
  }

  async outboxOf(subscriptionId: string): Promise<OutboxRow[]> {
    const rows = await this.db.query(`SELECT ${OUTBOX_COLUMNS} FROM cloudesire_outbox WHERE subscription_id = $1 ORDER BY id`, [subscriptionId]);
    return rows.map((r) => OutboxRow.parse(r));
  }

  /** Calls that will not go without an operator: refused (dead) or of unknown outcome (held). */
  async deadLetters(): Promise<OutboxRow[]> {
    const rows = await this.db.query(`SELECT ${OUTBOX_COLUMNS} FROM cloudesire_outbox WHERE state IN ('dead', 'held') ORDER BY id DESC`);
    return rows.map((r) => OutboxRow.parse(r));
  }

  async notifications(limit = 50): Promise<Array<{ entity: string; entityId: string; type: string; ignored: string | null; receivedAt: string }>> {
    return this.db.query(
      `SELECT entity, entity_id AS "entityId", type, ignored, ${TS("received_at", "receivedAt")} FROM cloudesire_notifications ORDER BY id DESC LIMIT $1`,
      [limit],
    );
  }
}

/**
 * Our invoice as Cloudesire invoice lines (docs/billing.md): one line per resource with something to pay,
 * quantity 1 at the line's rounded amount, so that Cloudesire's total is exactly ours (its own
 * quantity × price would round differently); the usage is in the description. Decimal strings only.
 */
export function invoiceLinesOf(period: string, inv: Invoice): Array<{ description: string; identifier: string; price: { price: string; currency: string }; quantity: string; unit: string }> {
  return inv.lines
    .filter((l) => new Decimal(l.amount).gt(0))
    .map((l) => ({
      description: `${l.resource} ${period}: ${l.quantity} ${l.unit}s (${l.freeUnitHours} free) at ${l.unitPrice} ${inv.currency} each`,
      identifier: `${l.resource}-${period}`,
      price: { price: l.amount, currency: inv.currency },
      quantity: "1",
      unit: "period",
    }));
}
