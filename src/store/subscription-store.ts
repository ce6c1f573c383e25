import { z } from "zod";
import type { MarketplaceEvent } from "../domain/event.js";
import { DesiredState, foldEvent } from "../domain/subscription.js";
import type { Db } from "./db.js";

/** held: a cancellation waits for an operator because the project still has resources (ORPHAN_POLICY=hold). */
export const Phase = z.enum(["pending", "applying", "ready", "failed", "held", "cancelled"]);
export type Phase = z.infer<typeof Phase>;

/** Non-secret stack outputs, as recorded after a successful update. The password is never stored here. */
export const RecordedOutputs = z.object({
  projectId: z.string(),
  userId: z.string(),
  userName: z.string(),
  authUrl: z.string(),
  region: z.string(),
  domainId: z.string(),
});
export type RecordedOutputs = z.infer<typeof RecordedOutputs>;

export const OperationRecord = z.object({
  id: z.coerce.number(),
  kind: z.string(),
  eventId: z.string(),
  generation: z.number(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  result: z.enum(["running", "succeeded", "failed"]),
  error: z.string().nullable(),
});
export type OperationRecord = z.infer<typeof OperationRecord>;

export const SubscriptionRecord = z.object({
  id: z.string(),
  desired: DesiredState,
  generation: z.number(),
  appliedGeneration: z.number(),
  phase: Phase,
  lastError: z.string().nullable(),
  outputs: RecordedOutputs.nullable(),
  tokenHash: z.string().nullable(),
  /** Why the next operation runs when no event asked for it (operator retry, drift repair): its stack message. */
  pendingNote: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SubscriptionRecord = z.infer<typeof SubscriptionRecord>;

export type EventIntake =
  | { outcome: "duplicate"; original: "applied" | "stale" | "rejected"; reason: string | null; subscription: SubscriptionRecord | null }
  | { outcome: "applied"; changed: boolean; created: boolean; subscription: SubscriptionRecord }
  | { outcome: "stale" | "rejected"; reason: string; subscription: SubscriptionRecord | null };

const SUB_COLUMNS = `id, desired, generation, applied_generation AS "appliedGeneration", phase,
  last_error AS "lastError", outputs, token_hash AS "tokenHash", pending_note AS "pendingNote",
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"`;
const OP_COLUMNS = `id, kind, event_id AS "eventId", generation,
  to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "startedAt",
  to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "finishedAt", result, error`;

const parseSub = (row: unknown) => SubscriptionRecord.parse(row);

/** Durable state of subscriptions: the event inbox, the desired state, and operations on stacks. */
export class SubscriptionStore {
  constructor(private readonly db: Db) {}

  /**
   * Stores the event and folds it into the subscription's desired state, in one transaction: once this
   * returns, the event survives a crash, and a duplicate id never applies twice.
   */
  async intake(event: MarketplaceEvent, tokenHashIfNew: string, onPending?: (tx: Db, id: string) => Promise<void>): Promise<EventIntake> {
    return this.db.transaction(async (tx) => {
      // Events of one subscription are folded one at a time, across replicas (two first events racing
      // would otherwise both try to create it): a transaction-scoped lock on the subscription id.
      await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", [`subscription:${event.subscription.id}`]);
      const inserted = await tx.query(
        `INSERT INTO events (id, subscription_id, type, occurred_at, body, outcome)
         VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT (id) DO NOTHING RETURNING id`,
        [event.id, event.subscription.id, event.type, event.occurredAt, JSON.stringify(event)],
      );
      if (inserted.length === 0) {
        const [prev] = await tx.query<{ outcome: "applied" | "stale" | "rejected"; reason: string | null; subscription_id: string }>(
          "SELECT outcome, reason, subscription_id FROM events WHERE id = $1",
          [event.id],
        );
        const rows = await tx.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE id = $1`, [prev?.subscription_id]);
        return { outcome: "duplicate", original: prev?.outcome ?? "applied", reason: prev?.reason ?? null, subscription: rows[0] ? parseSub(rows[0]) : null };
      }
      const [row] = await tx.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE id = $1 FOR UPDATE`, [event.subscription.id]);
      const current = row ? parseSub(row) : null;
      const folded = foldEvent(current?.desired ?? null, event);
      await tx.query("UPDATE events SET outcome = $2, reason = $3 WHERE id = $1", [
        event.id, folded.outcome, folded.outcome === "applied" ? null : folded.reason,
      ]);
      if (folded.outcome !== "applied") return { outcome: folded.outcome, reason: folded.reason, subscription: current };

      let rows: unknown[];
      if (!current) {
        rows = await tx.query(
          `INSERT INTO subscriptions (id, desired, token_hash) VALUES ($1, $2, $3) RETURNING ${SUB_COLUMNS}`,
          [event.subscription.id, JSON.stringify(folded.state), tokenHashIfNew],
        );
      } else {
        // A change needs a new stack update; any applied event also lifts a failure (the next event resumes).
        rows = await tx.query(
          `UPDATE subscriptions SET desired = $2,
             generation = generation + $3,
             phase = CASE WHEN $3 = 1 OR phase = 'failed' THEN 'pending' ELSE phase END,
             updated_at = now()
           WHERE id = $1 RETURNING ${SUB_COLUMNS}`,
          [event.subscription.id, JSON.stringify(folded.state), folded.changed ? 1 : 0],
        );
      }
      const subscription = parseSub(rows[0]);
      // The job that applies it is stored in the same transaction: an accepted event always has one.
      if (subscription.phase === "pending" && onPending) await onPending(tx, subscription.id);
      return { outcome: "applied", changed: folded.changed, created: !current, subscription };
    });
  }

  async get(id: string): Promise<SubscriptionRecord | null> {
    const [row] = await this.db.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE id = $1`, [id]);
    return row ? parseSub(row) : null;
  }

  async list(filter: { phase?: Phase | undefined } = {}): Promise<SubscriptionRecord[]> {
    const rows = filter.phase
      ? await this.db.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE phase = $1 ORDER BY id`, [filter.phase])
      : await this.db.query(`SELECT ${SUB_COLUMNS} FROM subscriptions ORDER BY id`);
    return rows.map(parseSub);
  }

  /** Subscriptions whose desired state is ahead of what was applied, and not parked as failed. */
  async pendingIds(): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM subscriptions WHERE generation > applied_generation AND phase NOT IN ('failed', 'held') ORDER BY updated_at, id`,
    );
    return rows.map((r) => r.id);
  }

  /**
   * Records the start of an operation by `owner` (host:pid:instance). Returns its id and, if the
   * previous operation of this subscription never finished (its process died), that one: its stack
   * may still carry the dead process's lock.
   */
  async beginOperation(id: string, generation: number, kind: string, eventId: string, owner: string): Promise<{ id: number; interrupted: { id: number; owner: string | null } | null }> {
    return this.db.transaction(async (tx) => {
      // An operation left 'running' by a crash is closed as interrupted: the new one supersedes it.
      const closed = await tx.query<{ id: string | number; owner: string | null }>(
        `UPDATE operations SET result = 'failed', error = 'interrupted (service stopped during the operation)', finished_at = now()
         WHERE subscription_id = $1 AND result = 'running' RETURNING id, owner`,
        [id],
      );
      await tx.query(`UPDATE subscriptions SET phase = 'applying', pending_note = NULL, updated_at = now() WHERE id = $1`, [id]);
      const [op] = await tx.query<{ id: string | number }>(
        `INSERT INTO operations (subscription_id, generation, kind, event_id, owner) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [id, generation, kind, eventId, owner],
      );
      const last = closed.sort((a, b) => Number(b.id) - Number(a.id))[0];
      return { id: Number(op?.id), interrupted: last ? { id: Number(last.id), owner: last.owner } : null };
    });
  }

  /** A transient failure that the queue will retry: the subscription waits as pending, with the reason. */
  async retryLater(opId: number, id: string, reason: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`UPDATE operations SET result = 'failed', finished_at = now(), error = $2 WHERE id = $1`, [opId, `${reason} (will retry)`]);
      await tx.query(`UPDATE subscriptions SET last_error = $2, phase = 'pending', updated_at = now() WHERE id = $1`, [id, reason]);
    });
  }

  async succeedOperation(opId: number, id: string, generation: number, outputs: RecordedOutputs | null, summary: unknown): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`UPDATE operations SET result = 'succeeded', finished_at = now(), summary = $2 WHERE id = $1`, [
        opId, JSON.stringify(summary ?? null),
      ]);
      await tx.query(
        `UPDATE subscriptions SET
           applied_generation = GREATEST(applied_generation, $2),
           outputs = COALESCE($3, outputs),
           last_error = NULL,
           phase = CASE WHEN generation > $2 THEN 'pending'
                        WHEN desired->>'status' = 'cancelled' THEN 'cancelled' ELSE 'ready' END,
           updated_at = now()
         WHERE id = $1`,
        [id, generation, outputs ? JSON.stringify(outputs) : null],
      );
      // The stack was just applied: the cloud matches it now, and an earlier drift finding is void.
      await tx.query(`DELETE FROM drift WHERE subscription_id = $1`, [id]);
    });
  }

  /** The operation stops and waits for an operator (phase `held`), with what it waits for. */
  async holdOperation(opId: number, id: string, reason: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`UPDATE operations SET result = 'failed', finished_at = now(), error = $2 WHERE id = $1`, [opId, reason]);
      await tx.query(`UPDATE subscriptions SET last_error = $2, phase = 'held', updated_at = now() WHERE id = $1`, [id, reason]);
    });
  }

  async failOperation(opId: number, id: string, generation: number, reason: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`UPDATE operations SET result = 'failed', finished_at = now(), error = $2 WHERE id = $1`, [opId, reason]);
      // If a newer event arrived meanwhile, stay pending: the newer desired state gets its own attempt.
      await tx.query(
        `UPDATE subscriptions SET last_error = $3,
           phase = CASE WHEN generation > $2 THEN 'pending' ELSE 'failed' END, updated_at = now()
         WHERE id = $1`,
        [id, generation, reason],
      );
    });
  }

  /** Operator retry (or drift repair): apply the desired state again; `note` names why in the stack history. */
  async retry(id: string, note: string): Promise<SubscriptionRecord | null> {
    const [row] = await this.db.query(
      `UPDATE subscriptions SET phase = 'pending', pending_note = $2,
         generation = CASE WHEN generation > applied_generation THEN generation ELSE generation + 1 END,
         updated_at = now()
       WHERE id = $1 RETURNING ${SUB_COLUMNS}`,
      [id, note],
    );
    return row ? parseSub(row) : null;
  }

  async setTokenHash(id: string, tokenHash: string): Promise<boolean> {
    const rows = await this.db.query("UPDATE subscriptions SET token_hash = $2 WHERE id = $1 RETURNING id", [id, tokenHash]);
    return rows.length > 0;
  }

  async operation(id: string, opId: number): Promise<OperationRecord | null> {
    const [row] = await this.db.query(`SELECT ${OP_COLUMNS} FROM operations WHERE subscription_id = $1 AND id = $2`, [id, opId]);
    return row ? OperationRecord.parse(row) : null;
  }

  async countsByStatus(): Promise<Array<{ status: string; phase: string; count: number }>> {
    const rows = await this.db.query<{ status: string; phase: string; n: number | string }>(
      `SELECT desired->>'status' AS status, phase, count(*) AS n FROM subscriptions GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    return rows.map((r) => ({ status: r.status, phase: r.phase, count: Number(r.n) }));
  }

  async queueDepth(): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }>(
      `SELECT count(*) AS n FROM subscriptions WHERE generation > applied_generation AND phase NOT IN ('failed', 'held')`,
    );
    return Number(row?.n ?? 0);
  }

  async operations(id: string, limit = 20): Promise<OperationRecord[]> {
    const rows = await this.db.query(
      `SELECT ${OP_COLUMNS} FROM operations WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2`,
      [id, limit],
    );
    return rows.map((r) => OperationRecord.parse(r));
  }
}
