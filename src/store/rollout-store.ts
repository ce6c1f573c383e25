import { z } from "zod";
import { RolloutRecord, RolloutStackState } from "../domain/rollout.js";
import { Phase, type SubscriptionRecord } from "../domain/lifecycle.js";
import type { NewRollout, NewRolloutStack, QueuedStack, RolloutLedger, WaveCount } from "../provisioning/ports.js";
import type { Db } from "./db.js";
import { isoUtc, jsonColumn } from "./sql.js";
import type { SubscriptionStore } from "./subscription-store.js";

const COLUMNS = `id, state, waves, wave_sizes AS "waveSizes", wave, max_failures AS "maxFailures", pause_seconds AS "pauseSeconds",
  ${isoUtc("pause_until", "pauseUntil")}, program_version AS "programVersion", groups, reason, started_by AS "startedBy",
  ${isoUtc("created_at", "createdAt")}, ${isoUtc("updated_at", "updatedAt")}, ${isoUtc("finished_at", "finishedAt")}`;

const Row = RolloutRecord.extend({
  waves: jsonColumn(RolloutRecord.shape.waves),
  waveSizes: jsonColumn(RolloutRecord.shape.waveSizes),
  groups: jsonColumn(RolloutRecord.shape.groups),
});
const parse = (r: unknown): RolloutRecord => Row.parse(r);

const QueuedRow = z.object({
  rolloutId: z.coerce.number(),
  subscriptionId: z.string(),
  marked: z.number(),
  phase: Phase,
  cancelled: z.boolean(),
  generation: z.number(),
  appliedGeneration: z.number(),
  lastError: z.string().nullable(),
});

/** Rows inserted per statement (a rollout of 10,000 stacks is 10 statements in one transaction). */
const CHUNK = 1000;

/**
 * Rollouts and their stacks (domain/rollout.ts). Marking a wave's stacks goes through the subscriptions'
 * own reapply (SubscriptionStore.reapplyEach), and their bulk jobs are queued, in the transaction that
 * records them as queued: a crash leaves a stack either waiting or queued with its job.
 */
export class RolloutStore implements RolloutLedger {
  constructor(
    private readonly db: Db,
    private readonly o: {
      subscriptions: Pick<SubscriptionStore, "reapplyEach">;
      /** Queues the jobs of marked subscriptions on the bulk lane, inside `tx`. */
      enqueueBulk: (tx: Db, ids: string[]) => Promise<void>;
    },
  ) {}

  async create(r: NewRollout, stacks: readonly NewRolloutStack[]): Promise<RolloutRecord | null> {
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await tx.query(
          `INSERT INTO rollouts (state, waves, wave_sizes, wave, max_failures, pause_seconds, program_version, groups, started_by)
           VALUES ('running', $1::jsonb, $2::jsonb, 0, $3, $4, $5, $6::jsonb, $7) RETURNING ${COLUMNS}`,
          [JSON.stringify(r.waves), JSON.stringify(r.waveSizes), r.maxFailures, r.pauseSeconds, r.programVersion, JSON.stringify(r.groups), r.startedBy],
        );
        const created = parse(row);
        for (let i = 0; i < stacks.length; i += CHUNK) {
          await tx.query(
            `INSERT INTO rollout_stacks (rollout_id, subscription_id, wave, changes)
             SELECT $1, sub, wave, changes FROM jsonb_to_recordset($2::jsonb) AS x(sub text, wave integer, changes text)`,
            [created.id, JSON.stringify(stacks.slice(i, i + CHUNK).map((s) => ({ sub: s.subscriptionId, wave: s.wave, changes: s.changes })))],
          );
        }
        return created;
      });
    } catch (e) {
      // rollouts_one_active: another rollout is running, pausing or halted.
      if (e instanceof Error && /rollouts_one_active|duplicate key/.test(e.message)) return null;
      throw e;
    }
  }

  async get(id: number): Promise<RolloutRecord | null> {
    const [row] = await this.db.query(`SELECT ${COLUMNS} FROM rollouts WHERE id = $1`, [id]);
    return row ? parse(row) : null;
  }

  async list(limit = 100): Promise<RolloutRecord[]> {
    return (await this.db.query(`SELECT ${COLUMNS} FROM rollouts ORDER BY id DESC LIMIT $1`, [limit])).map(parse);
  }

  async moving(): Promise<RolloutRecord[]> {
    return (await this.db.query(`SELECT ${COLUMNS} FROM rollouts WHERE state IN ('running', 'pausing') ORDER BY id`)).map(parse);
  }

  async update(id: number, patch: Partial<Pick<RolloutRecord, "state" | "wave" | "pauseUntil" | "reason" | "maxFailures">>): Promise<RolloutRecord | null> {
    const [row] = await this.db.query(
      `UPDATE rollouts SET state = COALESCE($2, state), wave = COALESCE($3, wave),
         pause_until = CASE WHEN $4::boolean THEN $5::timestamptz ELSE pause_until END,
         reason = CASE WHEN $6::boolean THEN $7 ELSE reason END, max_failures = COALESCE($8, max_failures), updated_at = now(),
         finished_at = CASE WHEN $2 IN ('done', 'aborted') THEN now() ELSE finished_at END
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, patch.state ?? null, patch.wave ?? null, "pauseUntil" in patch, patch.pauseUntil ?? null, "reason" in patch, patch.reason ?? null, patch.maxFailures ?? null],
    );
    return row ? parse(row) : null;
  }

  async counts(id: number): Promise<WaveCount[]> {
    const rows = await this.db.query<{ wave: number; state: string; n: number | string }>(
      "SELECT wave, state, count(*) AS n FROM rollout_stacks WHERE rollout_id = $1 GROUP BY 1, 2 ORDER BY 1, 2",
      [id],
    );
    return rows.map((r) => ({ wave: r.wave, state: RolloutStackState.parse(r.state), count: Number(r.n) }));
  }

  async failures(id: number, limit: number): Promise<Array<{ subscriptionId: string; wave: number; reason: string | null }>> {
    return this.db.query(
      `SELECT subscription_id AS "subscriptionId", wave, reason FROM rollout_stacks WHERE rollout_id = $1 AND state = 'failed' ORDER BY wave, subscription_id LIMIT $2`,
      [id, limit],
    );
  }

  async queueWave(
    id: number,
    wave: number,
    limit: number,
    decide: (sub: SubscriptionRecord, declaredHash: string | null, changes: string) => { note: string } | { skip: string },
  ): Promise<number> {
    return this.db.transaction(async (tx) => {
      const waiting = await tx.query<{ id: string; changes: string }>(
        `SELECT subscription_id AS id, changes FROM rollout_stacks WHERE rollout_id = $1 AND wave = $2 AND state = 'waiting'
         ORDER BY subscription_id LIMIT $3 FOR UPDATE`,
        [id, wave, limit],
      );
      if (waiting.length === 0) return 0;
      const changesOf = new Map(waiting.map((w) => [w.id, w.changes]));
      const decided = await this.o.subscriptions.reapplyEach(tx, [...changesOf.keys()], (sub, hash) => decide(sub, hash, changesOf.get(sub.id) ?? ""));
      const rows = [...decided].map(([sub, d]) => ("skip" in d ? { sub, state: "skipped", generation: null, reason: d.skip } : { sub, state: "queued", generation: d.generation, reason: null }));
      // updated_at = now(), the same instant the reapply stamped on the subscription: `queuedChanged`
      // sees the subscription again only once its operation moved it.
      await tx.query(
        `UPDATE rollout_stacks rs SET state = x.state, generation = x.generation, reason = x.reason, updated_at = now()
         FROM jsonb_to_recordset($2::jsonb) AS x(sub text, state text, generation integer, reason text)
         WHERE rs.rollout_id = $1 AND rs.subscription_id = x.sub`,
        [id, JSON.stringify(rows)],
      );
      const queued = rows.filter((r) => r.state === "queued").map((r) => r.sub);
      if (queued.length > 0) await this.o.enqueueBulk(tx, queued);
      return waiting.length;
    });
  }

  async queuedChanged(limit: number): Promise<QueuedStack[]> {
    const rows = await this.db.query(
      `SELECT rs.rollout_id AS "rolloutId", rs.subscription_id AS "subscriptionId", rs.generation AS marked, s.phase,
         (s.desired->>'status' = 'cancelled') AS cancelled, s.generation, s.applied_generation AS "appliedGeneration", s.last_error AS "lastError"
       FROM rollout_stacks rs JOIN subscriptions s ON s.id = rs.subscription_id
       WHERE rs.state = 'queued' AND s.updated_at > rs.updated_at ORDER BY rs.rollout_id, rs.subscription_id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => QueuedRow.parse(r));
  }

  async settle(outcomes: ReadonlyArray<{ rolloutId: number; subscriptionId: string; state: RolloutStackState; reason: string | null }>): Promise<void> {
    if (outcomes.length === 0) return;
    await this.db.query(
      `UPDATE rollout_stacks rs SET state = x.state, reason = x.reason, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS x(rollout bigint, sub text, state text, reason text)
       WHERE rs.rollout_id = x.rollout AND rs.subscription_id = x.sub AND rs.state = 'queued'`,
      [JSON.stringify(outcomes.map((o) => ({ rollout: o.rolloutId, sub: o.subscriptionId, state: o.state, reason: o.reason })))],
    );
  }

  async skipWaiting(id: number, reason: string): Promise<number> {
    const rows = await this.db.query(
      "UPDATE rollout_stacks SET state = 'skipped', reason = $2, updated_at = now() WHERE rollout_id = $1 AND state = 'waiting' RETURNING 1",
      [id, reason],
    );
    return rows.length;
  }
}
