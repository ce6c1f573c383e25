import { z } from "zod";
import type { Db } from "./db.js";
import { isoUtc, jsonColumn } from "./sql.js";

/**
 * The reads pg-boss has no API for, straight from its `job` table: all of them here, so that a pg-boss
 * upgrade is checked in one place. They rely on pg-boss 10's schema (version 24, node_modules/pg-boss/
 * version.json): columns `name`, `state`, `singleton_key`, `start_after`, `created_on`, `data`, `output`,
 * `retry_limit`; `state` an enum ordered created < retry < active < completed < cancelled < failed; a job
 * waits while `state < 'active'` and runs once `start_after < now()` (plans.js, fetchNextJob).
 */
export const SCHEMA = "jobs";

/**
 * Of `keys`, those with a job of `queue` waiting to start (`created`), each such job locked until the
 * transaction ends. The lock is what makes "a job is already waiting" stay true until we commit: pg-boss's
 * fetch takes jobs `FOR UPDATE SKIP LOCKED`, so no worker can start one of these (and read the subscription
 * before our write is visible) meanwhile; a job a worker already holds is no longer `created` and is not
 * seen. Rows are locked in key order, the same in every transaction (no deadlock).
 */
export async function lockWaiting(q: Pick<Db, "query">, queue: string, keys: readonly string[]): Promise<Set<string>> {
  const rows = await q.query<{ key: string }>(
    `SELECT singleton_key AS key FROM ${SCHEMA}.job WHERE name = $1 AND state = 'created' AND singleton_key = ANY($2::text[])
     ORDER BY singleton_key FOR UPDATE`,
    [queue, keys],
  );
  return new Set(rows.map((r) => r.key));
}

/** Jobs of these queues that could start now (not waiting for a retry's backoff). */
export async function readyCount(q: Pick<Db, "query">, queues: readonly string[]): Promise<number> {
  const [row] = await q.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM ${SCHEMA}.job WHERE name = ANY($1::text[]) AND state < 'active' AND start_after <= now()`,
    [queues],
  );
  return Number(row?.n ?? 0);
}

const JobRow = z.object({
  id: z.string(),
  data: jsonColumn(z.record(z.string(), z.unknown()).nullable()),
  output: jsonColumn(z.record(z.string(), z.unknown()).nullable()),
  retryLimit: z.number(),
  createdOn: z.string(),
  /** created_on to the microsecond (createdOn stops at the millisecond): where a page of jobs ends. */
  key: z.string(),
});
export type JobRow = z.infer<typeof JobRow>;

/**
 * Jobs of `queue`, newest first (by created_on, then id), after `before` when a page follows another.
 * pg-boss 10 keeps each queue in its own partition of jobs.job (plans.js: `PARTITION BY LIST (name)`),
 * so this sorts that queue's jobs only.
 */
export async function jobsOf(q: Pick<Db, "query">, queue: string, o: { limit: number; before?: { createdOn: string; id: string } | undefined }): Promise<JobRow[]> {
  const params: unknown[] = [queue];
  const before = o.before ? `AND (created_on, id) < ($${params.push(o.before.createdOn)}::timestamptz, $${params.push(o.before.id)}::uuid)` : "";
  const rows = await q.query(
    `SELECT id, data, output, retry_limit AS "retryLimit", ${isoUtc("created_on", "createdOn")},
       ${isoUtc("created_on", "key", "us")}
     FROM ${SCHEMA}.job WHERE name = $1 ${before} ORDER BY created_on DESC, id DESC LIMIT $${params.push(o.limit)}`,
    params,
  );
  return rows.map((r) => JobRow.parse(r));
}

export async function jobCount(q: Pick<Db, "query">, queue: string): Promise<number> {
  const [row] = await q.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${SCHEMA}.job WHERE name = $1`, [queue]);
  return Number(row?.n ?? 0);
}
