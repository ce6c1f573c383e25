import { z } from "zod";
import { laneOf, OutboxCall, OutboxLane, Reported } from "../domain/cloudesire-report.js";
import { storableText } from "../domain/storable.js";
import type { Db } from "./db.js";
import { isoUtc, jsonColumn, pageOf, readPage, whereOf, type Page } from "./sql.js";

/** done: sent, or skipped (nothing left to say); dead: refused by Cloudesire; held: outcome unknown, an operator decides. */
export const OutboxState = z.enum(["pending", "sending", "sent", "skipped", "dead", "held"]);
export type OutboxState = z.infer<typeof OutboxState>;

export const OutboxRow = z.object({
  id: z.coerce.number(),
  subscriptionId: z.string(),
  lane: OutboxLane,
  call: jsonColumn(OutboxCall),
  state: OutboxState,
  attempts: z.number(),
  nextAt: z.string(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
});
export type OutboxRow = z.infer<typeof OutboxRow>;
const OUTBOX_COLUMNS = `id, subscription_id AS "subscriptionId", lane, body AS call, state, attempts, last_error AS "lastError",
  ${isoUtc("next_at", "nextAt")}, ${isoUtc("created_at", "createdAt")}, ${isoUtc("sent_at", "sentAt")}`;

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
  lastRead: jsonColumn(LastRead.nullable()),
  lastError: z.string().nullable(),
  reported: jsonColumn(Reported),
});
export type SyncRecord = z.infer<typeof SyncRecord>;
/**
 * A read's verdict or error may quote Cloudesire's text (an identifier, a status): kept storable, so a NUL or
 * a lone surrogate in it cannot make the read's own bookkeeping fail, and the read with it, for ever.
 */
const storedText = (text: string): string => storableText(text, 4000).text;
const SYNC_COLUMNS = `id, wanted, synced, attempts, deleted, reads, last_read AS "lastRead", last_error AS "lastError", reported, ${isoUtc("due_at", "dueAt")}`;

/**
 * Cloudesire's side of the store: notifications, the read each subscription waits for (a small durable
 * queue: `wanted` counts requests, `synced` the request the last finished read answered), and the outbox
 * of calls back, written in the same transaction as the state they report.
 */
export class CloudesireStore {
  constructor(private readonly db: Db) {}

  /**
   * Stores a notification and, for a subscription, asks for a read of it, in one transaction: once this
   * returns (and we answer 204) the read will happen, across crashes. A notification identical to one
   * stored (the same JSON, whatever its key order or spacing: a retry, or a captured one replayed) is
   * counted on that row instead of stored again, and asks for a read only when none is waiting: a
   * flood of replays neither piles up reads nor cuts short the back-off of one that waits for Cloudesire.
   */
  async recordNotification(n: { entity: string; entityId: string; type: string; body: unknown; subscription: string | null; ignored: string | null }): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ repeats: number; first: string }>(
        `INSERT INTO cloudesire_notifications (entity, entity_id, type, body, ignored, digest)
         VALUES ($1, $2, $3, $4::jsonb, $5, encode(sha256(convert_to($4::jsonb::text, 'UTF8')), 'hex'))
         ON CONFLICT (digest) DO UPDATE SET repeats = cloudesire_notifications.repeats + 1, last_received_at = now()
         RETURNING repeats, ${isoUtc("received_at", "first")}`,
        [n.entity, n.entityId, n.type, JSON.stringify(n.body), n.ignored],
      );
      if (n.subscription) await this.want(tx, n.subscription, n.type === "DELETED", (row?.repeats ?? 0) > 0 ? row?.first : undefined);
    });
  }

  /** Asks for a read now (an operator's `cloudesire sync`). */
  async requestSync(id: string): Promise<void> {
    await this.want(this.db, id, false);
  }

  /**
   * Asks for a read of `id`. `repeatOf`: the notification repeats one first received then (a retry, or a
   * captured one replayed): it asks for nothing if a read is waiting, nor if a read began since that first
   * receipt (that read saw all the notification announced). Each replay cost a read of Cloudesire's API
   * once the previous had finished (issue 31); now replays cost nothing after the first read.
   */
  private async want(q: Pick<Db, "query">, id: string, deleted: boolean, repeatOf?: string): Promise<void> {
    await q.query(
      `INSERT INTO cloudesire_subscriptions (id, deleted) VALUES ($1, $2)
       ON CONFLICT (id) DO UPDATE SET wanted = cloudesire_subscriptions.wanted + 1, due_at = now(), attempts = 0,
         deleted = cloudesire_subscriptions.deleted OR EXCLUDED.deleted, updated_at = now()
       WHERE $3::timestamptz IS NULL
         OR (cloudesire_subscriptions.wanted <= cloudesire_subscriptions.synced
             AND (cloudesire_subscriptions.last_read IS NULL OR (cloudesire_subscriptions.last_read->>'at')::timestamptz < $3::timestamptz))`,
      [id, deleted, repeatOf ?? null],
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
      [id, wanted, JSON.stringify({ ...lastRead, deploymentStatus: storedText(lastRead.deploymentStatus), type: lastRead.type === null ? null : storedText(lastRead.type), verdict: storedText(lastRead.verdict) })],
    );
  }

  /** The read failed (Cloudesire down, a timeout): tried again after an exponential back-off, never dropped. */
  async failRead(id: string, error: string, backoffMs: number, maxBackoffMs: number): Promise<void> {
    await this.db.query(
      `UPDATE cloudesire_subscriptions SET attempts = attempts + 1, last_error = $2, updated_at = now(),
         due_at = now() + make_interval(secs => LEAST($4::float8, $3::float8 * power(2, attempts)) / 1000)
       WHERE id = $1`,
      [id, storedText(error), backoffMs, maxBackoffMs],
    );
  }

  /**
   * What was reported of subscription `id`, locked, handed to `decide`; the calls it returns are queued and
   * its `reported` kept, in `tx` or a transaction of its own (the ReportLedger of report-back.ts). Not a
   * Cloudesire subscription: nothing.
   */
  async report(id: string, decide: (reported: Reported) => { calls: OutboxCall[]; reported: Reported } | null, tx?: Db): Promise<void> {
    const within = async (q: Db) => {
      const reported = await this.reportedOf(q, id);
      const next = reported ? decide(reported) : null;
      if (!next) return;
      await this.enqueue(q, id, next.calls);
      await q.query(`UPDATE cloudesire_subscriptions SET reported = $2 WHERE id = $1`, [id, JSON.stringify(next.reported)]);
    };
    await (tx ? within(tx) : this.db.transaction(within));
  }

  /** Queues `call` once per (subscription, `dedupeKey`), if the subscription is Cloudesire's: the unique key keeps a retry from queueing it twice. */
  async queueOnce(tx: Db, id: string, lane: OutboxLane, call: OutboxCall, dedupeKey: string): Promise<void> {
    await tx.query(
      `INSERT INTO cloudesire_outbox (subscription_id, lane, kind, body, dedupe_key)
       SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM cloudesire_subscriptions WHERE id = $1)
         AND NOT EXISTS (SELECT 1 FROM cloudesire_outbox WHERE subscription_id = $1 AND kind = 'closing-invoice')
       ON CONFLICT (subscription_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`,
      [id, lane, call.kind, JSON.stringify(call), dedupeKey],
    );
  }

  /** The periods whose invoice a billing run queued for subscription `id` (its dedupe keys `invoice:<period>`, a re-rating's `invoice:<period>:v<n>`). */
  async invoicedPeriods(id: string): Promise<string[]> {
    const rows = await this.db.query<{ key: string }>(`SELECT dedupe_key AS key FROM cloudesire_outbox WHERE subscription_id = $1 AND dedupe_key LIKE 'invoice:%'`, [id]);
    return [...new Set(rows.map((r) => r.key.slice("invoice:".length).split(":")[0] as string))];
  }

  /** The outbox at a glance (metrics): calls waiting to go, dead, held, and how long the oldest waiting one has waited. */
  async outboxStats(): Promise<{ waiting: number; dead: number; held: number; oldestWaitingSeconds: number }> {
    const [row] = await this.db.query<{ waiting: string; dead: string; held: string; oldest: number | null }>(
      `SELECT count(*) FILTER (WHERE state IN ('pending', 'sending')) AS waiting, count(*) FILTER (WHERE state = 'dead') AS dead,
         count(*) FILTER (WHERE state = 'held') AS held,
         EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE state IN ('pending', 'sending')))::float8 AS oldest
       FROM cloudesire_outbox WHERE state NOT IN ('sent', 'skipped')`,
    );
    return { waiting: Number(row?.waiting ?? 0), dead: Number(row?.dead ?? 0), held: Number(row?.held ?? 0), oldestWaitingSeconds: Number(row?.oldest ?? 0) };
  }

  /** Subscriptions whose access (endpoints, instructions, credentials) was posted to Cloudesire. */
  async withAccess(): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(`SELECT id FROM cloudesire_subscriptions WHERE (reported->>'access')::boolean ORDER BY id`);
    return rows.map((r) => r.id);
  }

  /** Subscriptions notified whose last read found them of a product not sold here (ignored, never touched). */
  async ignoredCount(): Promise<number> {
    const [row] = await this.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM cloudesire_subscriptions WHERE last_read->>'verdict' LIKE 'ignored:%'`);
    return Number(row?.n ?? 0);
  }

  /** Are calls of the lifecycle lane still to go (pending, being sent, or stopped for an operator)? */
  async reporting(id: string): Promise<boolean> {
    const [row] = await this.db.query(`SELECT 1 FROM cloudesire_outbox WHERE subscription_id = $1 AND lane = 'lifecycle' AND state NOT IN ('sent', 'skipped') LIMIT 1`, [id]);
    return row !== undefined;
  }

  private async reportedOf(tx: Db, id: string): Promise<Reported | null> {
    const [row] = await tx.query<{ reported: unknown }>(`SELECT reported FROM cloudesire_subscriptions WHERE id = $1 FOR UPDATE`, [id]);
    return row ? jsonColumn(Reported).parse(row.reported) : null;
  }

  /** Queues `calls` in order, each in its lane (laneOf). */
  private async enqueue(tx: Db, id: string, calls: readonly OutboxCall[]): Promise<void> {
    if (calls.length === 0) return;
    await tx.query(
      `INSERT INTO cloudesire_outbox (subscription_id, lane, kind, body)
       SELECT $1, e->>'lane', e->'call'->>'kind', e->'call' FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n`,
      [id, JSON.stringify(calls.map((call) => ({ lane: laneOf(call), call })))],
    );
  }

  /**
   * Calls ready to go: the first unfinished call of each (subscription, lane), when due. A call waits for
   * every earlier one of its lane (DEPLOYED never goes before the credentials); a dead or held call stops
   * its lane until an operator resolves it. Across lanes: an optional call waits for the lifecycle calls
   * queued before it (the name after DEPLOYED), and a closing invoice for the invoices queued before it
   * (one ordered queue of charges at the cancellation: a month's invoice still retrying, or held for an
   * operator, lands before the closing invoice and so before UNDEPLOYED, while Cloudesire takes invoices).
   */
  async dueCalls(limit = 20): Promise<OutboxRow[]> {
    const rows = await this.db.query(
      `SELECT ${OUTBOX_COLUMNS} FROM cloudesire_outbox o
       WHERE o.state IN ('pending', 'sending') AND o.next_at <= now()
         AND NOT EXISTS (SELECT 1 FROM cloudesire_outbox p WHERE p.subscription_id = o.subscription_id
                         AND (p.lane = o.lane OR (o.lane = 'optional' AND p.lane = 'lifecycle') OR (o.kind = 'closing-invoice' AND p.lane = 'invoice'))
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

  async retryLater(id: number, error: string, backoffMs: number, maxBackoffMs: number, atLeastMs = 0): Promise<void> {
    await this.db.query(
      `UPDATE cloudesire_outbox SET state = 'pending', last_error = $2,
         next_at = now() + make_interval(secs => GREATEST($5::float8, LEAST($4::float8, $3::float8 * power(2, GREATEST(attempts - 1, 0)))) / 1000)
       WHERE id = $1`,
      [id, error, backoffMs, maxBackoffMs, atLeastMs],
    );
  }

  /** An operator's decision on a dead or held call: send it again, or record that it landed. */
  /** An operator's (`by`) decision on a dead or held call: send it again, or record that it landed. */
  async resolve(id: number, action: "resend" | "sent", by: string): Promise<OutboxRow | null> {
    const [row] = await this.db.query(
      `UPDATE cloudesire_outbox SET state = CASE WHEN $2 = 'resend' THEN 'pending' ELSE 'sent' END, next_at = now(),
         last_error = CASE WHEN $2 = 'resend' THEN last_error ELSE concat('marked sent by ', $3::text, '; was: ', last_error) END,
         sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END
       WHERE id = $1 AND state IN ('dead', 'held') RETURNING ${OUTBOX_COLUMNS}`,
      [id, action, by],
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

  /** A page of `deadLetters`, newest first, after `after` (keyset through cloudesire_outbox_dead). */
  async deadLetterPage(o: { after?: number | undefined; limit: number }): Promise<Page<OutboxRow, number>> {
    const params: unknown[] = [];
    const where = whereOf(params, [["state IN ('dead', 'held')"], o.after === undefined ? undefined : ["id < ?", o.after]]);
    const rows = await readPage<{ id: string | number }>(this.db, `SELECT ${OUTBOX_COLUMNS} FROM cloudesire_outbox ${where} ORDER BY id DESC LIMIT $${params.push(o.limit + 1)}`, params);
    return pageOf(rows, o.limit, (r) => OutboxRow.parse(r), (r) => Number(r.id));
  }

  /** The latest notifications; `repeats`: how many identical ones came after it. */
  async notifications(limit = 50): Promise<Array<{ entity: string; entityId: string; type: string; ignored: string | null; receivedAt: string; repeats: number }>> {
    return this.db.query(
      `SELECT entity, entity_id AS "entityId", type, ignored, ${isoUtc("received_at", "receivedAt")}, repeats FROM cloudesire_notifications ORDER BY id DESC LIMIT $1`,
      [limit],
    );
  }
}
