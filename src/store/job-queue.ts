import PgBoss from "pg-boss";
import { z } from "zod";
import type { Lane, ReconcileJob } from "../provisioning/ports.js";
import type { Db } from "./db.js";
import { jobCount, jobsOf, lockWaiting, readyCount, SCHEMA, type JobRow } from "./pg-boss-jobs.js";
import { pageOf, type Page } from "./sql.js";
import { inStoredCalendar, OUT_OF_CALENDAR } from "../domain/storable.js";

/**
 * The queues of reconcile jobs, one per lane, and where jobs of both go when they will not be retried.
 * Two queues rather than pg-boss priorities: the `short` policy keeps one waiting job per subscription
 * *per queue*, so with one queue a customer's job for a subscription whose bulk job already waits would
 * be a no-op and keep the bulk job's low priority.
 */
export const RECONCILE_QUEUE = "reconcile";
export const BULK_QUEUE = "reconcile-bulk";
export const DEAD_LETTER_QUEUE = "reconcile-dead";
const QUEUE_OF: Record<Lane, string> = { customer: RECONCILE_QUEUE, bulk: BULK_QUEUE };

export interface QueueOptions {
  /** Attempts of a job whose failures are transient (the first included). */
  maxAttempts: number;
  /** First retry delay; doubled each retry (pg-boss counts whole seconds; below 1 s retries at once). */
  backoffMs: number;
  /** A job still active after this long belongs to a dead worker: pg-boss fails it, and it is retried. */
  expireInSeconds: number;
}

export type { ReconcileJob };

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
// A forged cursor's instant must be one the database can compare with (no year 0000): else a 500, not a 422.
export const DeadLetterKey = z.object({ failedAt: z.string().datetime({ precision: 6 }).refine(inStoredCalendar, OUT_OF_CALENDAR), job: z.string().uuid() });
export type DeadLetterKey = z.infer<typeof DeadLetterKey>;

function deadLetterOf(r: JobRow): DeadLetter {
  // Ours (`deadLetter`) carry the failure in their data; pg-boss's own dead-lettering copies the failed
  // job's data and its output (our error message).
  const data = r.data ?? {};
  const output = r.output ?? {};
  return DeadLetter.parse({
    job: String(data.job ?? r.id),
    subscription: String(data.subscription ?? ""),
    error: String(data.error ?? output.message ?? "retries exhausted"),
    attempts: Number(data.attempts ?? r.retryLimit + 1),
    failedAt: r.createdOn,
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
    for (const name of Object.values(QUEUE_OF)) await ensureQueue(boss, name, { ...common, policy: "short", deadLetter: DEAD_LETTER_QUEUE });
    return new JobQueue(boss, db);
  }

  /**
   * Asks for a reconcile of `subscription` in `lane` (customer by default). Inside `tx`, the job is stored
   * with the transaction (an event accepted is never without its job); a job already waiting for it in
   * that lane makes this a no-op.
   */
  async enqueue(subscription: string, o: { tx?: Db; delaySeconds?: number; lane?: Lane } = {}): Promise<void> {
    await this.boss.send(QUEUE_OF[o.lane ?? "customer"], { subscription }, {
      singletonKey: subscription,
      ...(o.delaySeconds ? { startAfter: o.delaySeconds } : {}),
      ...(o.tx ? { db: o.tx.executor() as PgBoss.Db } : {}),
    });
  }

  /**
   * `enqueue` for several subscriptions in one statement (an intake batch's jobs, inside its `tx`; a
   * scan's); a job already waiting for one of them makes that one a no-op (the `short` policy's unique key).
   */
  async enqueueMany(subscriptions: readonly string[], o: { tx?: Db; lane?: Lane } = {}): Promise<void> {
    if (subscriptions.length === 0) return;
    const queue = QUEUE_OF[o.lane ?? "customer"];
    // Under load nearly every subscription already has its job waiting, and pg-boss's insert is the
    // dearest statement of an intake batch: looking first (an index read) saves it. The waiting jobs are
    // locked with the transaction, so none is started before the state it must apply is committed (on
    // PostgreSQL a worker could otherwise take it in between and miss our change: a lost wake-up).
    const waiting = await lockWaiting(o.tx ?? this.db, queue, subscriptions);
    const missing = subscriptions.filter((s) => !waiting.has(s));
    if (missing.length === 0) return;
    await this.boss.insert(
      missing.map((subscription) => ({ name: queue, data: { subscription }, singletonKey: subscription })),
      o.tx ? { db: o.tx.executor() as PgBoss.Db } : {},
    );
  }

  /** The next job of `lane` (customer by default) ready to run, or null. */
  async fetch(lane: Lane = "customer"): Promise<ReconcileJob | null> {
    const jobs = await this.boss.fetch<{ subscription: string }>(QUEUE_OF[lane], { batchSize: 1, includeMetadata: true });
    const job = jobs?.[0];
    if (!job) return null;
    return { id: job.id, subscription: JobData.parse(job.data).subscription, lane, retryCount: job.retryCount, retryLimit: job.retryLimit };
  }

  async complete(job: ReconcileJob): Promise<void> {
    await this.boss.complete(QUEUE_OF[job.lane], job.id);
  }

  /** Fails the attempt: pg-boss retries it after the backoff, or, after the last one, dead-letters it. */
  async fail(job: ReconcileJob, error: string): Promise<void> {
    await this.boss.fail(QUEUE_OF[job.lane], job.id, { message: error });
  }

  /** A failure no retry can fix: straight to the dead letters. */
  async deadLetter(job: ReconcileJob, error: string): Promise<void> {
    await this.boss.send(DEAD_LETTER_QUEUE, { subscription: job.subscription, job: job.id, error, attempts: job.retryCount + 1 });
    await this.boss.complete(QUEUE_OF[job.lane], job.id, { deadLettered: error });
  }

  /**
   * Jobs that will not be retried (what an operator has to look at), a page newest first, after `after`:
   * by (failed at, job id); the key keeps created_on to the microsecond, failedAt only to the millisecond,
   * so two dead letters of one millisecond stay in order.
   */
  async deadLetterPage(o: { after?: DeadLetterKey | undefined; limit: number }): Promise<Page<DeadLetter, DeadLetterKey>> {
    const rows = await jobsOf(this.db, DEAD_LETTER_QUEUE, { limit: o.limit + 1, before: o.after && { createdOn: o.after.failedAt, id: o.after.job } });
    return pageOf(rows, o.limit, deadLetterOf, (r) => ({ failedAt: r.key, job: r.id }));
  }

  deadLetterCount(): Promise<number> {
    return jobCount(this.db, DEAD_LETTER_QUEUE);
  }

  /** Jobs of either lane that could run now (not waiting for a backoff): tests and graceful shutdown wait for none. */
  ready(): Promise<number> {
    return readyCount(this.db, Object.values(QUEUE_OF));
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
