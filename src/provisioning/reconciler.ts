import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { UnreadableRecord } from "../domain/errors.js";
import { needsOperation } from "../domain/lifecycle.js";
import { StackOperations, type JobResult, type OperationDeps } from "./operation.js";
import type { DbPriority, Lane, ReconcileJob, ReconcileQueue, SubscriptionLocks } from "./ports.js";

export interface ReconcilerOptions extends OperationDeps {
  locks: SubscriptionLocks;
  queue: ReconcileQueue;
  /** Jobs (on different subscriptions) run at once by this process. */
  concurrency: number;
  /**
   * Of those, at most this many bulk jobs (operators' work): the rest stay free for customers, so that a
   * purchase starts at once even while a rollout keeps every other slot busy. At least 1; the concurrency
   * when absent.
   */
  bulkSlots?: number;
  /** An operation ended here (the rollout runner follows its stacks' outcomes). */
  onJobDone?: (subscription: string) => void;
  /** How often this process looks for jobs it was not told about (other replicas' events, retries due). */
  pollMs: number;
  /**
   * A customer's operation runs ahead on the database (the embedded store's scheduler: one thread, where
   * each background statement first waits for the event loop to turn): a free slot is not enough when
   * each of a purchase's statements would wait for a loop turn crowded with a fleet's statements. Every
   * other part of a job (its queue calls, the follow-ups it kicks, operators' jobs) is ordinary.
   */
  dbPriority?: DbPriority;
}

/** Without a scheduler (PostgreSQL serves connections side by side): every job as it comes. */
const SIDE_BY_SIDE: DbPriority = { ahead: (fn) => fn(), ordinary: (fn) => fn() };

/** How often the safety-net scan runs (at least; never more often than the poll). */
const SCAN_EVERY_MS = 60_000;

/** This process, as recorded on its operations: host and pid say whether it is still alive. */
const OWNER = `${hostname()}:${process.pid}`;

/**
 * Drives every subscription's stack towards its desired state, from jobs on the queue. A job names a
 * subscription; working it applies the newest desired state (not one update per event). At most one
 * operation per subscription runs at once across every replica (the subscription's database lock);
 * different subscriptions run in parallel up to `concurrency` per replica. Transient failures go back
 * to the queue, which retries them with exponential backoff; the last failure, or a permanent one,
 * leaves the subscription failed with its cause and the job in the dead letters.
 */
export class Reconciler {
  private readonly owner = `${OWNER}:${randomBytes(3).toString("hex")}`;
  private readonly local = new Set<string>();
  /** Jobs that came for a subscription while it was being worked on here, by the lane they came in. */
  private readonly again = new Map<string, Lane>();
  private readonly inflight = new Set<Promise<void>>();
  private active = 0;
  private activeBulk = 0;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private readonly operations: StackOperations;
  private readonly priority: DbPriority;

  constructor(private readonly o: ReconcilerOptions) {
    this.operations = new StackOperations(o, this.owner, () => this.stopped);
    this.priority = o.dbPriority ?? SIDE_BY_SIDE;
  }

  start(): void {
    this.stopped = false;
    void this.scan().then(() => this.pump());
    this.timer = setInterval(() => void this.pump(), this.o.pollMs);
    this.timer.unref();
    // The scan queues a job for every subscription behind its desired state: a safety net, not the
    // way work arrives, so it runs seldom (on a big backlog it offers every pending subscription again).
    this.scanTimer = setInterval(() => void this.scan().then(() => this.pump()), Math.max(this.o.pollMs, SCAN_EVERY_MS));
    this.scanTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.scanTimer) clearInterval(this.scanTimer);
    await this.pumping;
    await Promise.allSettled([...this.inflight]);
  }

  /** True while an operation on this subscription runs here (drift checks wait their turn). */
  busy(id: string): boolean {
    return this.local.has(id);
  }

  /** A job was just queued (by this process): look for work now rather than at the next poll. */
  kick(_id?: string): void {
    void this.pump();
  }

  /**
   * Safety net: queues a job for every subscription whose desired state is ahead of what was applied
   * (a job that expired with a dead worker, a database restored from backup), in the lane of what asked
   * for it (an operator's work stays behind customers'). Queueing is idempotent.
   */
  async scan(): Promise<void> {
    if (this.stopped) return;
    try {
      // What waited for configuration goes on by itself once nothing is missing (a restart with the
      // credentials, the pulumi CLI installed since).
      // Those a target held (down, or without room) are looked at again too: each is held again if still so.
      if ((this.o.readiness || this.o.hold) && (this.o.readiness?.() ?? []).length === 0) {
        const resumed = await this.o.store.resumeWaiting();
        await this.o.queue.enqueueMany(resumed.customer, { lane: "customer" });
        await this.o.queue.enqueueMany(resumed.bulk, { lane: "bulk" });
        if (resumed.customer.length + resumed.bulk.length > 0) this.o.log.info("configuration complete: waiting operations resume", { subscriptions: [...resumed.customer, ...resumed.bulk].length });
      }
      const pending = await this.o.store.pendingByLane();
      await this.o.queue.enqueueMany(pending.customer, { lane: "customer" });
      await this.o.queue.enqueueMany(pending.bulk, { lane: "bulk" });
    } catch (e) {
      this.o.log.error("reconcile scan failed", { error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Resolves when nothing runs here and no job is ready (tests, graceful shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      await this.pump();
      await Promise.allSettled([...this.inflight]);
      if (this.stopped) return; // a stopped reconciler takes no more jobs: nothing to wait for
      const ready = await this.o.queue.ready();
      // A pump may have fetched a job (no longer "ready") that is not yet in flight: wait for it too.
      if (this.active === 0 && this.inflight.size === 0 && !this.pumping && ready === 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return this.pumping;
    }
    const loop = async () => {
      try {
        do {
          this.pumpAgain = false;
          const bulkSlots = Math.max(1, Math.min(this.o.concurrency, this.o.bulkSlots ?? this.o.concurrency));
          while (!this.stopped && this.active < this.o.concurrency) {
            // Customers first: the bulk lane is looked at only when no customer's job is ready, and
            // never fills the slots kept for customers.
            let job = await this.o.queue.fetch("customer");
            if (!job && this.activeBulk < bulkSlots) job = await this.o.queue.fetch("bulk");
            if (!job) break;
            const bulk = job.lane === "bulk";
            this.active++;
            if (bulk) this.activeBulk++;
            // Ordinary whatever context kicked this pump (a customer's operation's follow-ups do).
            const run = this.priority.ordinary(() => this.work(job)).finally(() => {
              this.active--;
              if (bulk) this.activeBulk--;
              this.inflight.delete(run);
              void this.pump();
            });
            this.inflight.add(run);
          }
        } while (this.pumpAgain && !this.stopped);
      } catch (e) {
        this.o.log.error("job fetch failed", { error: e instanceof Error ? e.message : String(e) });
      }
    };
    // Cleared in a later microtask, so never before it is set (the loop may finish without awaiting).
    const pumping: Promise<void> = loop().finally(() => {
      if (this.pumping === pumping) this.pumping = undefined;
    });
    this.pumping = pumping;
    return this.pumping;
  }

  private async work(job: ReconcileJob): Promise<void> {
    const id = job.subscription;
    try {
      if (this.local.has(id)) {
        // Already being worked on here: that pass re-reads the desired state before it ends.
        if (this.again.get(id) !== "customer") this.again.set(id, job.lane);
        await this.o.queue.complete(job);
        return;
      }
      this.local.add(id);
      try {
        const operate = () => this.reconcile(id, job);
        const locked = await this.o.locks.tryWithLock(`reconcile:${id}`, () => (job.lane === "customer" ? this.priority.ahead(operate) : operate()));
        if (!locked.acquired) {
          // Another replica works on it: look again shortly (its pass also applies the newest state).
          await this.o.queue.enqueue(id, { delaySeconds: 2, lane: job.lane });
          await this.o.queue.complete(job);
          return;
        }
        const result = locked.value;
        if (result.kind === "done") await this.o.queue.complete(job);
        else if (result.kind === "retry" || result.exhausted) await this.o.queue.fail(job, result.error);
        else await this.o.queue.deadLetter(job, result.error);
      } finally {
        this.local.delete(id);
        const again = this.again.get(id);
        this.again.delete(id);
        if (again && !this.stopped) await this.o.queue.enqueue(id, { lane: again });
        this.o.onJobDone?.(id);
      }
    } catch (e) {
      // The store or the queue failed (database down): the job is retried by the queue or re-queued by a scan.
      const error = e instanceof Error ? e.message : String(e);
      this.o.log.error("reconcile job failed", { subscription: id, job: job.id, error });
      await this.o.queue.fail(job, error).catch(() => {});
    }
  }

  private async reconcile(id: string, job: ReconcileJob): Promise<JobResult> {
    try {
      return await this.converge(id, job);
    } catch (e) {
      // A record this version cannot read is set aside by the store (named in /healthz, logged once) and
      // left out of the scan until it is written again: retrying could only fail again (issue 31: 173
      // failures and 33 dead letters in 17 minutes).
      if (e instanceof UnreadableRecord) return { kind: "done" };
      throw e;
    }
  }

  private async converge(id: string, job: ReconcileJob): Promise<JobResult> {
    // Loop until the applied generation catches up: events that arrived during an operation are
    // applied by one more operation with the newest desired state, not one per event.
    let sub = await this.o.store.get(id);
    for (;;) {
      if (this.stopped) return { kind: "done" };
      if (!sub || !needsOperation(sub)) return { kind: "done" };
      const result = await this.operations.run(sub, job);
      if (result.kind !== "done") return result;
      sub = result.next !== undefined ? result.next : await this.o.store.get(id);
    }
  }
}
