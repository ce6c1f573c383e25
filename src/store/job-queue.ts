import PgBoss from "pg-boss";
import { z } from "zod";
import type { Db } from "./db.js";
import { pageOf, type Page } from "./sql.js";

/** The queue of reconcile jobs and where jobs go when they will not be retried. */
export const RECONCILE_QUEUE = "reconcile";
export const DEAD_LETTER_QUEUE = "reconcile-dead";
const SCHEMA = "jobs";

export interface QueueOptions {
  /** Attempts of a job whose failures are transient (the first included). */
  maxAttempts: number;
  /** First retry delay; doubled each retry (pg-boss counts whole seconds; below 1 s retries at once). */
  backoffMs: number;
  /** A job still active after this long belongs to a dead worker: pg-boss fails it, and it is retried. */
  expireInSeconds: number;
}

export interface ReconcileJob {
  id: string;
  subscription: string;
  /** Retries already made (0 on the first attempt) and allowed. */
  retryCount: number;
  retryLimit: number;
}

const JobData = z.object({ subscription: z.string() });

export const DeadLetter = z.object({
  job: z.string(),
  subscription: z.string(),
  error: z.string(),
  attempts: z.number(),
  failedAt: z.string(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

/** Where a page of dead letters ends: pg-boss's created_on (full precision) and job id. */
export const DeadLetterKey = z.object({ failedAt: z.string().datetime({ precision: 6 }), job: z.string().uuid() });
export type DeadLetterKey = z.infer<typeof DeadLetterKey>;

type DeadLetterRow = { id: string; data: unknown; output: unknown; created: string; retry_limit: number };
const DEAD_LETTER_COLUMNS = `id, data, output, retry_limit, to_char(created_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created`;

function deadLetterOf(r: DeadLetterRow): DeadLetter {
  const json = (v: unknown) => ((typeof v === "string" ? JSON.parse(v) : v) ?? {}) as Record<string, unknown>;
  const data = json(r.data);
  // pg-boss's own dead-lettering copies the failed job's data and its output (our error message).
  const output = json(r.output);
  return DeadLetter.parse({
    job: String(data.job ?? r.id),
    subscription: String(data.subscription ?? ""),
    error: String(data.error ?? output.message ?? "retries exhausted"),
    attempts: Number(data.attempts ?? r.retry_limit + 1),
    failedAt: r.created,
  });
}

/**
 * Reconcile jobs on pg-boss, in the service's own database (PGlite or PostgreSQL). One job names one
 * subscription; the `short` policy keeps at most one job waiting per subscription (a burst of events
 * is one job), pg-boss keeps them across crashes and retries them with exponential backoff. At most
 * one job per subscription *runs* at once: the reconciler holds the subscription's database lock while
 * it works (pg-boss itself would let a retried and a new job run together).
 */
export class JobQueue {
  private constructor(
    private readonly boss: PgBoss,
    private readonly db: Db,
  ) {}

  static async open(db: Db, o: QueueOptions, onError: (e: Error) => void): Promise<JobQueue> {
    const boss = new PgBoss({
      db: db.executor() as PgBoss.Db,
      schema: SCHEMA,
      // Archive and purge on a slow schedule; the cron clock is not used.
      schedule: false,
      supervise: true,
      maintenanceIntervalSeconds: 120,
    });
    boss.on("error", onError);
    await boss.start();
    const retryDelay = Math.round(o.backoffMs / 1000);
    const common = { retryLimit: Math.max(0, o.maxAttempts - 1), retryDelay, retryBackoff: retryDelay >= 1, expireInSeconds: o.expireInSeconds };
    await ensureQueue(boss, DEAD_LETTER_QUEUE, { policy: "standard", retentionDays: 30 });
    await ensureQueue(boss, RECONCILE_QUEUE, { ...common, policy: "short", deadLetter: DEAD_LETTER_QUEUE });
    return new JobQueue(boss, db);
  }

  /**
   * Asks for a reconcile of `subscription`. Inside `tx`, the job is stored with the transaction (an
   * event accepted is never without its job); a job already waiting for it makes this a no-op.
   */
  async enqueue(subscription: string, o: { tx?: Db; delaySeconds?: number } = {}): Promise<void> {
    await this.boss.send(RECONCILE_QUEUE, { subscription }, {
      singletonKey: subscription,
      ...(o.delaySeconds ? { startAfter: o.delaySeconds } : {}),
      ...(o.tx ? { db: o.tx.executor() as PgBoss.Db } : {}),
    });
  }

  /**
   * `enqueue` for several subscriptions in one statement (an intake batch's jobs, inside its `tx`; a
   * scan's); a job already waiting for one of them makes that one a no-op (the `short` policy's unique key).
   */
  async enqueueMany(subscriptions: readonly string[], o: { tx?: Db } = {}): Promise<void> {
    let missing = subscriptions;
    if (o.tx?.serialized && missing.length > 0) {
      // Inside a transaction nothing else can run on the embedded database, so a job seen waiting stays
      // waiting until we commit: its insert would be a no-op (the `short` policy's unique key is exactly
      // "name, key, state created"). Looking is a simple index read; pg-boss's insert is the dearest
      // statement of an intake batch, and under load nearly every subscription already has its job.
      const waiting = new Set(
        (await o.tx.query<{ key: string }>(
          `SELECT singleton_key AS key FROM ${SCHEMA}.job WHERE name = $1 AND state = 'created' AND singleton_key = ANY($2::text[])`,
          [RECONCILE_QUEUE, missing],
        )).map((r) => r.key),
      );
      missing = missing.filter((s) => !waiting.has(s));
    }
    if (missing.length === 0) return;
    await this.boss.insert(
      missing.map((subscription) => ({ name: RECONCILE_QUEUE, data: { subscription }, singletonKey: subscription })),
      o.tx ? { db: o.tx.executor() as PgBoss.Db } : {},
    );
  }

  /** The next job ready to run, or null. */
  async fetch(): Promise<ReconcileJob | null> {
    const jobs = await this.boss.fetch<{ subscription: string }>(RECONCILE_QUEUE, { batchSize: 1, includeMetadata: true });
    const job = jobs?.[0];
    if (!job) return null;
    return { id: job.id, subscription: JobData.parse(job.data).subscription, retryCount: job.retryCount, retryLimit: job.retryLimit };
  }

  async complete(job: ReconcileJob): Promise<void> {
    await this.boss.complete(RECONCILE_QUEUE, job.id);
  }

  /** Fails the attempt: pg-boss retries it after the backoff, or, after the last one, dead-letters it. */
  async fail(job: ReconcileJob, error: string): Promise<void> {
    await this.boss.fail(RECONCILE_QUEUE, job.id, { message: error });
  }

  /** A failure no retry can fix: straight to the dead letters. */
  async deadLetter(job: ReconcileJob, error: string): Promise<void> {
    await this.boss.send(DEAD_LETTER_QUEUE, { subscription: job.subscription, job: job.id, error, attempts: job.retryCount + 1 });
    await this.boss.complete(RECONCILE_QUEUE, job.id, { deadLettered: error });
  }

  /** Jobs that will not be retried, newest first: what an operator has to look at. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const rows = await this.db.query<DeadLetterRow>(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM ${SCHEMA}.job WHERE name = $1 ORDER BY created_on DESC LIMIT $2`,
      [DEAD_LETTER_QUEUE, limit],
    );
    return rows.map(deadLetterOf);
  }

  /**
   * A page of `deadLetters` by (failed at, job id), newest first, after `after`. The key keeps created_on
   * to the microsecond, failedAt only to the millisecond: two dead letters of
   * one millisecond stay in order. pg-boss 10 keeps each queue in its own partition of jobs.job
   * (plans.js: `PARTITION BY LIST (name)`), so this sorts dead letters only.
   */
  async deadLetterPage(o: { after?: DeadLetterKey | undefined; limit: number }): Promise<Page<DeadLetter, DeadLetterKey>> {
    const params: unknown[] = [DEAD_LETTER_QUEUE];
    const after = o.after === undefined ? "" : `AND (created_on, id) < ($${params.push(o.after.failedAt)}::timestamptz, $${params.push(o.after.job)}::uuid)`;
    const rows = await this.db.query<DeadLetterRow & { key_on: string }>(
      `SELECT ${DEAD_LETTER_COLUMNS}, to_char(created_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS key_on FROM ${SCHEMA}.job WHERE name = $1 ${after}
       ORDER BY created_on DESC, id DESC LIMIT $${params.push(o.limit + 1)}`,
      params,
    );
    return pageOf(rows, o.limit, deadLetterOf, (r) => ({ failedAt: r.key_on, job: r.id }));
  }

  async deadLetterCount(): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${SCHEMA}.job WHERE name = $1`, [DEAD_LETTER_QUEUE]);
    return Number(row?.n ?? 0);
  }

  /** Jobs per state (created, retry, active...): the queue's depth as pg-boss sees it. */
  async depth(): Promise<Record<string, number>> {
    const rows = await this.db.query<{ state: string; n: number | string }>(
      `SELECT state, count(*) AS n FROM ${SCHEMA}.job WHERE name = $1 AND state IN ('created', 'retry', 'active') GROUP BY state`,
      [RECONCILE_QUEUE],
    );
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  /** Jobs that could run now (not waiting for a backoff): tests and graceful shutdown wait for none. */
  async ready(): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }>(
      `SELECT count(*) AS n FROM ${SCHEMA}.job WHERE name = $1 AND state < 'active' AND start_after <= now()`,
      [RECONCILE_QUEUE],
    );
    return Number(row?.n ?? 0);
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: false, wait: true, close: false });
  }
}

async function ensureQueue(boss: PgBoss, name: string, options: Omit<PgBoss.Queue, "name">): Promise<void> {
  const existing = await boss.getQueue(name);
  if (existing) await boss.updateQueue(name, { name, ...options });
  else await boss.createQueue(name, { name, ...options });
}
