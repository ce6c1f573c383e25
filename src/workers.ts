import type { TenantSettings } from "./domain/tenant-spec.js";
import type { Logger } from "./log.js";
import { Metrics } from "./metrics.js";
import { DriftDetector } from "./provisioning/drift.js";
import type { Engine } from "./provisioning/engine.js";
import { ProgressHub } from "./provisioning/progress.js";
import { Reconciler } from "./provisioning/reconciler.js";
import type { TenantGuard } from "./provisioning/tenant-guard.js";
import type { Db } from "./store/db.js";
import { DriftStore } from "./store/drift-store.js";
import type { JobQueue } from "./store/job-queue.js";
import { IntakeBatcher } from "./store/intake-batcher.js";
import { SubscriptionStore } from "./store/subscription-store.js";

export interface WorkerOptions {
  db: Db;
  queue: JobQueue;
  engine: Engine;
  log: Logger;
  settings: TenantSettings;
  concurrency: number;
  pollMs: number;
  driftIntervalSeconds: number;
  guard?: TenantGuard | undefined;
  /** Finished progress streams kept in memory for late SSE clients. */
  progressKept?: number;
  defaultMetrics?: boolean;
}

/**
 * The stores, metrics and workers of one service process, wired together once: the server and the test
 * harness build exactly the same thing (only the engine, the queue's options and the guard differ).
 */
export function assembleWorkers(o: WorkerOptions) {
  const store = new SubscriptionStore(o.db);
  const driftStore = new DriftStore(o.db);

  const metrics = new Metrics(
    { subscriptionsByStatus: () => store.countsByStatus(), queueDepth: () => store.queueDepth(), driftedSubscriptions: () => driftStore.driftedCount(), deadLetters: () => o.queue.deadLetterCount() },
    { defaultMetrics: o.defaultMetrics ?? false },
  );
  // Webhooks are taken in by group commit; their jobs are queued in the same transaction.
  const intake = new IntakeBatcher(
    (items) => store.intakeBatch(items, (tx, ids) => o.queue.enqueueMany(ids, { tx })),
    { onBatch: (events) => metrics.intakeBatchEvents.observe(events), holdBackground: () => o.db.holdBackground() },
  );
  const progress = new ProgressHub({ itemsPerOperation: 5000, finishedKept: o.progressKept ?? 200 });
  // A drift repair is done when a check finds the stack in sync, not when its update succeeds.
  let drift: DriftDetector | undefined;
  const reconciler = new Reconciler({
    store, engine: o.engine, settings: o.settings, log: o.log, metrics, progress, db: o.db, queue: o.queue,
    ...(o.guard ? { guard: o.guard } : {}), concurrency: o.concurrency, pollMs: o.pollMs,
    onRepaired: (id) => void drift?.recheck(id),
  });
  drift = new DriftDetector({
    store, drift: driftStore, engine: o.engine, log: o.log, metrics, intervalSeconds: o.driftIntervalSeconds, busy: (id) => reconciler.busy(id),
  });
  return { store, intake, driftStore, metrics, progress, reconciler, drift };
}
