import type { CloudesireConfig } from "./config.js";
import type { TenantSettings } from "./domain/tenant-spec.js";
import { CloudesireClient } from "./marketplaces/cloudesire/client.js";
import type { BilledResource } from "./domain/billing.js";
import { passwordResetLink } from "./domain/password-reset.js";
import type { Decimal } from "./metering/money.js";
import { UsageSoFar } from "./metering/usage-so-far.js";
import type { ClosingBilling } from "./marketplaces/cloudesire/closing-invoice.js";
import { ReportBack } from "./marketplaces/cloudesire/report-back.js";
import { CloudesireWorker } from "./marketplaces/cloudesire/worker.js";
import { BillingDeliveries, type DeliveryTarget } from "./metering/billing-delivery.js";
import { BillingStore } from "./store/billing-store.js";
import { CloudesireStore } from "./store/cloudesire-store.js";
import type { Logger } from "./log.js";
import { Metrics } from "./metrics.js";
import { DriftDetector, type DriftDetectorOptions } from "./provisioning/drift.js";
import type { Engine, EngineCheck } from "./provisioning/engine.js";
import type { FleetSchedule } from "./provisioning/ports.js";
import { programVersion } from "./provisioning/program-version.js";
import { ProgressHub } from "./provisioning/progress.js";
import { Reconciler } from "./provisioning/reconciler.js";
import { RolloutRunner } from "./provisioning/rollout-runner.js";
import { RolloutStore } from "./store/rollout-store.js";
import { Gauge } from "prom-client";
import type { TenantGuard } from "./provisioning/tenant-guard.js";
import type { Db } from "./store/db.js";
import type { Scheduler } from "./store/embedded-scheduler.js";
import { DriftStore } from "./store/drift-store.js";
import { AuditStore } from "./store/audit-store.js";
import { OperatorStore } from "./store/operator-store.js";
import type { JobQueue } from "./store/job-queue.js";
import { IntakeBatcher } from "./store/intake-batcher.js";
import { SubscriptionStore } from "./store/subscription-store.js";
import { phasesByTarget, SoldStore } from "./store/sold-store.js";
import { CapacityService, type CapacityTarget } from "./provisioning/capacity.js";
import { targetHold } from "./provisioning/target-hold.js";
import { defaultTargetOf, targetsOf } from "./domain/tenant-spec.js";

export interface WorkerOptions {
  db: Db;
  /** Who goes first on the database (from `openDb`): webhook intake before background work. */
  scheduler?: Scheduler | undefined;
  queue: JobQueue;
  engine: Engine;
  log: Logger;
  settings: TenantSettings;
  /** The version of the program that declares tenants; the running program's (program-version.ts) when absent. */
  programVersion?: string | undefined;
  concurrency: number;
  /** Of those, the most bulk (operator) jobs at once (config RECONCILE_CUSTOMER_SLOTS); all of them when absent. */
  bulkSlots?: number | undefined;
  pollMs: number;
  /** The queue's first retry delay (RECONCILE_BACKOFF_MS, as given to JobQueue.open): progress streams say when a retry comes. */
  retryBackoffMs?: number | undefined;
  driftIntervalSeconds: number;
  guard?: TenantGuard | undefined;
  /** What the service still needs before it can provision (operation.ts OperationDeps.readiness); none: ready. */
  readiness?: (() => string[]) | undefined;
  /** The drift detector's cheap look at the cloud before a refresh preview (provisioning/drift-precheck.ts). */
  driftObserve?: DriftDetectorOptions["observe"];
  /** How often running rollouts are looked at (besides a kick when an operation ends); 1 s by default. */
  rolloutTickMs?: number;
  /** Finished progress streams kept in memory for late SSE clients. */
  progressKept?: number;
  defaultMetrics?: boolean;
  /** The engine's own check (server.ts, cached a minute): the engine-available gauge; none: a double, always available. */
  engineCheck?: (() => Promise<EngineCheck>) | undefined;
  /** Selling on Cloudesire; its worker runs only with an API URL and a token. */
  cloudesire?: CloudesireConfig | undefined;
  /** Rates a cancelled Cloudesire PAYG subscription's last usage (its closing invoice); none: such invoices are dead letters. */
  billing?: Omit<ClosingBilling, "subscription"> | undefined;
  /** Derives the customers' keys (CUSTOMER_TOKEN_KEY): the password-reset links given to Cloudesire. */
  customerTokenKey?: string | undefined;
  /** Replaces fetch for Cloudesire's API (tests). */
  cloudesireFetch?: typeof fetch;
  /** Where billing runs are delivered (BILLING_WEBHOOK_URL), as durable jobs; none: nowhere. */
  billingDelivery?: (DeliveryTarget & { pollMs?: number; fetchImpl?: typeof fetch }) | undefined;
  /** Fleet-wide schedules (drift sweep, rollout tick) shared by replicas; none: this process runs every one (embedded). */
  schedule?: FleetSchedule | undefined;
  /**
   * The targets as the service checks them: whether each answers (a down one holds only its own tenants)
   * and its Placement (what it can host); none: no target is probed and nothing is refused for capacity.
   */
  targets?: { problem?: ((target: string) => Promise<string | null>) | undefined; capacity?: readonly CapacityTarget[] | undefined } | undefined;
}

/**
 * The stores, metrics and workers of one service process, wired together once: the server and the test
 * harness build exactly the same thing (only the engine, the queue's options and the guard differ).
 */
export function assembleWorkers(o: WorkerOptions) {
  // Cloudesire's report-back is queued in the transaction that records an operation's outcome.
  const cloudesireStore = new CloudesireStore(o.db);
  const reportBack = new ReportBack(cloudesireStore, { dashboardUrl: o.cloudesire?.dashboardUrl, documentationUrl: o.cloudesire?.documentationUrl, passwordReset: Boolean(o.cloudesire?.serviceUrl && o.customerTokenKey), serviceUrl: o.cloudesire?.serviceUrl, limits: o.settings.limits, paygMode: o.cloudesire?.paygMode ?? "invoice", ...(o.cloudesire ? { languages: o.cloudesire.languages } : {}) });
  const store = new SubscriptionStore(o.db, {
    onOutcome: reportBack.onOperationOutcome,
    onTokenReissued: (tx, sub) => reportBack.refreshAccess(sub, tx),
    onUnreadable: (u) => o.log.error("stored record cannot be read: set aside until it is repaired (named in /healthz)", { subscription: u.subscription, reason: u.reason }),
  });
  const billingStore = new BillingStore(o.db, { onRunSaved: reportBack.onBillingRunSaved, onRerateSaved: reportBack.onRerateSaved }, { deliver: o.billingDelivery !== undefined });
  const bd = o.billingDelivery;
  const billingDeliveries = bd
    ? new BillingDeliveries({ ledger: billingStore, target: bd, withLock: (key, fn) => o.db.tryWithLock(key, fn), log: o.log, pollMs: bd.pollMs ?? 5000, ...(bd.fetchImpl ? { fetchImpl: bd.fetchImpl } : {}) })
    : undefined;
  const driftStore = new DriftStore(o.db);

  const metrics = new Metrics(
    {
      subscriptionsByStatus: () => store.countsByStatus(), queueDepth: () => store.queueDepth(), driftedSubscriptions: () => driftStore.driftedCount(), deadLetters: () => o.queue.deadLetterCount(),
      engineAvailable: async () => {
        const check = await o.engineCheck?.();
        return !check || (check.cli !== null && check.problems.length === 0);
      },
      newestBilledPeriod: () => billingStore.newestPeriod(),
    },
    { defaultMetrics: o.defaultMetrics ?? false },
  );
  // Webhooks are taken in by group commit; their jobs are queued in the same transaction.
  const intake = new IntakeBatcher(
    (items) => store.intakeBatch(items, (tx, ids) => o.queue.enqueueMany(ids, { tx, lane: "customer" })),
    { onBatch: (events) => metrics.intakeBatchEvents.observe(events), scheduler: o.scheduler },
  );
  const progress = new ProgressHub({ itemsPerOperation: 5000, finishedKept: o.progressKept ?? 200 });
  // A drift repair is done when a check finds the stack in sync, not when its update succeeds.
  let drift: DriftDetector | undefined;
  let rollouts: RolloutRunner | undefined;
  const version = o.programVersion ?? programVersion();
  const capacity = o.targets?.capacity
    ? new CapacityService({ targets: o.targets.capacity, defaultTarget: defaultTargetOf(o.settings), sold: new SoldStore(o.db), log: o.log })
    : undefined;
  // Bulkheads: a target that is down, or full, holds only its own tenants (waiting, with the reason).
  const hold = o.targets ? targetHold({ settings: o.settings, targetProblem: o.targets.problem, capacity, declaredSpec: (id) => store.declaredSpec(id) }) : undefined;
  targetGauges(metrics, { capacity, problem: o.targets?.problem, targets: targetsOf(o.settings).map((t) => t.name), phases: () => phasesByTarget(o.db, defaultTargetOf(o.settings)) });
  const reconciler = new Reconciler({
    ...(hold ? { hold } : {}),
    store, engine: o.engine, settings: o.settings, programVersion: version, log: o.log, metrics, progress, locks: o.db, queue: o.queue,
    ...(o.guard ? { guard: o.guard } : {}), ...(o.readiness ? { readiness: o.readiness } : {}), concurrency: o.concurrency, pollMs: o.pollMs,
    ...(o.scheduler ? { dbPriority: o.scheduler } : {}),
    ...(o.bulkSlots !== undefined ? { bulkSlots: o.bulkSlots } : {}),
    ...(o.retryBackoffMs !== undefined ? { retryDelayMs: earliestRetryMs(o.retryBackoffMs) } : {}),
    onRepaired: (id) => void drift?.recheck(id),
    onJobDone: () => rollouts?.kick(),
  });
  // Rollouts' updates are operators' work: the bulk lane, queued with the transaction that marks them.
  const rolloutStore = new RolloutStore(o.db, { subscriptions: store, enqueueBulk: (tx, ids) => o.queue.enqueueMany(ids, { tx, lane: "bulk" }) });
  rollouts = new RolloutRunner({
    rollouts: rolloutStore, declarations: store, locks: o.db, settings: o.settings, programVersion: version, log: o.log,
    kickReconciler: () => reconciler.kick(), ...(o.rolloutTickMs !== undefined ? { tickMs: o.rolloutTickMs } : {}), ...(o.schedule ? { schedule: o.schedule } : {}),
  });
  rolloutGauges(metrics, rolloutStore, rollouts);
  cloudesireGauges(metrics, cloudesireStore);
  deliveryGauges(metrics, billingStore);
  drift = new DriftDetector({
    store, drift: driftStore, engine: o.engine, log: o.log, metrics, intervalSeconds: o.driftIntervalSeconds, busy: (id) => reconciler.busy(id),
    ...(o.driftObserve ? { observe: o.driftObserve, concurrency: 4 } : {}), ...(o.schedule ? { schedule: o.schedule } : {}),
  });
  const cd = o.cloudesire;
  const tp = cd?.targetParameter;
  const product = {
    items: cd?.items ?? { cores: "CPU_CORES", ramGb: "RAM_GB", diskGb: "DISK_GB", floatingIps: "IP_ADDRESSES" }, paygPlans: cd?.paygPlans ?? [], productIds: cd?.productIds ?? [], limits: o.settings.limits,
    target: tp ? { code: tp, targets: targetsOf(o.settings).map((t) => t.name), defaultTarget: defaultTargetOf(o.settings) } : undefined,
  };
  const cloudesireWorker = cd?.apiUrl && cd.token
    ? new CloudesireWorker({
        store: cloudesireStore,
        reports: reportBack,
        subscriptions: {
          get: (id) => store.get(id),
          take: async (event) => {
            const result = await store.intake(event, (tx, ids) => o.queue.enqueueMany(ids, { tx, lane: "customer" }), "cloudesire");
            return { refused: result.outcome === "rejected" && result.foreign ? result.reason : null };
          },
        },
        client: new CloudesireClient({ apiUrl: cd.apiUrl, token: cd.token, timeoutMs: cd.timeoutMs, readAttempts: 3, backoffMs: cd.backoffMs, ...(o.cloudesireFetch ? { fetchImpl: o.cloudesireFetch } : {}) }),
        engine: o.engine, product,
        passwordResetLink: cd.serviceUrl && o.customerTokenKey
          ? async (id) => {
              const sub = await store.get(id);
              if (!sub || sub.tokenGeneration === 0) return null;
              return passwordResetLink(cd.serviceUrl as string, o.customerTokenKey as string, { subscriptionId: id, tokenGeneration: sub.tokenGeneration, resetGeneration: await store.resets.generation(id) });
            }
          : undefined,
        closing: o.billing ? { ...o.billing, subscription: async (id) => (await billingStore.billableSubscriptions(id))[0] ?? null } : undefined,
        withLock: (key, fn) => o.db.tryWithLock(key, fn), kick: (id) => reconciler.kick(id), log: o.log,
        pollMs: cd.pollMs, backoffMs: cd.backoffMs, maxBackoffMs: cd.maxBackoffMs,
      })
    : undefined;
  // Cloudesire's metric polls: a subscription of ours (notified by Cloudesire) → its usage so far; else null (404).
  const usageSoFar = o.billing ? new UsageSoFar({ gnocchi: o.billing.gnocchi, gnocchiOf: o.billing.gnocchiOf, meters: o.billing.meters, granularitySeconds: o.billing.granularitySeconds }) : undefined;
  const meteredUsage = usageSoFar
    ? async (id: string, resource: BilledResource): Promise<Decimal | null> => {
        const [sub] = (await cloudesireStore.get(id)) ? await billingStore.billableSubscriptions(id) : [];
        return sub ? usageSoFar.of(sub, resource) : null;
      }
    : undefined;
  const cloudesire = { store: cloudesireStore, reportBack, worker: cloudesireWorker, product, meteredUsage, kick: () => cloudesireWorker?.kick() };
  // Named operators, their console sessions, and the audit trail of what they do (api/operator-auth.ts).
  const operators = new OperatorStore(o.db);
  const audit = new AuditStore(o.db);
  return { store, intake, driftStore, billingStore, billingDeliveries, metrics, progress, reconciler, drift, cloudesire, rollouts, rolloutStore, operators, audit, capacity };
}

/**
 * Per target, read at scrape time: its capacity per resource class (Placement at most every 30 s), whether
 * it answers, and its subscriptions by phase. Registered whatever is configured (a series appears once there
 * is something to say): alert rules and dashboards name them.
 */
function targetGauges(metrics: Metrics, o: {
  capacity: CapacityService | undefined; problem: ((target: string) => Promise<string | null>) | undefined; targets: string[];
  phases: () => Promise<Array<{ target: string; phase: string; count: number }>>;
}): void {
  const registers = [metrics.registry];
  new Gauge({
    name: "tenants_target_capacity", help: "Per target and Placement resource class (VCPU, MEMORY_MB, DISK_GB): `sold` (prepaid plans of subscriptions not cancelled), `used` (Placement's usages), `physical` (Placement's (total - reserved) x allocation ratio), `sellable` (physical x the target's selling policy)",
    labelNames: ["target", "resource", "kind"], registers,
    async collect() {
      this.reset();
      for (const t of (await o.capacity?.report()) ?? []) {
        for (const [kind, amounts] of [["sold", t.sold], ["used", t.used], ["physical", t.physical], ["sellable", t.sellable]] as const) {
          if (!amounts) continue;
          for (const [resource, v] of Object.entries(amounts)) this.set({ target: t.target, resource, kind }, v);
        }
      }
    },
  });
  new Gauge({
    name: "tenants_target_up", help: "1 when the target answers (its admin's login, its Nova, Cinder and Neutron in its region), 0 when its tenants wait for it; only with several targets",
    labelNames: ["target"], registers,
    async collect() {
      this.reset();
      const problem = o.problem;
      if (!problem) return;
      for (const t of o.targets) this.set({ target: t }, (await problem(t)) ? 0 : 1);
    },
  });
  new Gauge({
    name: "tenants_target_subscriptions", help: "Subscriptions not cancelled, by target and phase (a down or full target's tenants show as waiting)",
    labelNames: ["target", "phase"], registers,
    async collect() {
      this.reset();
      for (const r of await o.phases()) this.set({ target: r.target, phase: r.phase }, r.count);
    },
  });
}

/** Billing deliveries, read at scrape time: waiting for an attempt, dead (an operator redelivers), the oldest waiting one's age. */
function deliveryGauges(metrics: Metrics, store: BillingStore): void {
  const registers = [metrics.registry];
  new Gauge({
    name: "tenants_billing_deliveries", help: "Billing runs whose delivery to BILLING_WEBHOOK_URL is not done, by state: waiting (for an attempt), dead (attempts exhausted or refused)", labelNames: ["state"], registers,
    async collect() {
      const s = await store.deliveryStats();
      this.set({ state: "waiting" }, s.waiting);
      this.set({ state: "dead" }, s.dead);
    },
  });
  new Gauge({
    name: "tenants_billing_delivery_oldest_waiting_seconds", help: "Age of the oldest billing run still waiting to be delivered (0: none)", registers,
    async collect() {
      this.set((await store.deliveryStats()).oldestWaitingSeconds);
    },
  });
}

/** The outbox of calls back to Cloudesire, read at scrape time: what waits, what needs an operator, and for how long. */
function cloudesireGauges(metrics: Metrics, store: CloudesireStore): void {
  const registers = [metrics.registry];
  new Gauge({
    name: "tenants_cloudesire_outbox_calls", help: "Calls back to Cloudesire not done, by state: waiting (pending or being sent), dead (refused), held (outcome unknown)", labelNames: ["state"], registers,
    async collect() {
      const s = await store.outboxStats();
      this.set({ state: "waiting" }, s.waiting);
      this.set({ state: "dead" }, s.dead);
      this.set({ state: "held" }, s.held);
    },
  });
  new Gauge({
    name: "tenants_cloudesire_ignored_subscriptions", help: "Cloudesire subscriptions notified to this service whose product is not sold here (CLOUDESIRE_PRODUCT_IDS): read once, never touched", registers,
    async collect() {
      this.set(await store.ignoredCount());
    },
  });
  new Gauge({
    name: "tenants_cloudesire_outbox_oldest_waiting_seconds", help: "Age of the oldest call back to Cloudesire still waiting to go (0: none)", registers,
    async collect() {
      this.set((await store.outboxStats()).oldestWaitingSeconds);
    },
  });
}

/**
 * The rollouts' gauges, read at scrape time: the newest rollout's stacks by state and its state, and how
 * many ready stacks differ from what the service now declares (a changed config is visible unasked).
 */
function rolloutGauges(metrics: Metrics, store: RolloutStore, runner: RolloutRunner): void {
  const registers = [metrics.registry];
  new Gauge({
    name: "tenants_rollout_stacks", help: "Stacks of the newest rollout by state (waiting, queued, succeeded, failed, skipped)", labelNames: ["rollout", "state"], registers,
    async collect() {
      this.reset();
      const [newest] = await store.list(1);
      if (!newest) return;
      const byState = new Map<string, number>(["waiting", "queued", "succeeded", "failed", "skipped"].map((s) => [s, 0]));
      for (const c of await store.counts(newest.id)) byState.set(c.state, (byState.get(c.state) ?? 0) + c.count);
      for (const [state, n] of byState) this.set({ rollout: String(newest.id), state }, n);
    },
  });
  new Gauge({
    name: "tenants_rollout_state", help: "The newest rollout's state: 1 for its state (running, pausing, halted, aborted, done)", labelNames: ["rollout", "state"], registers,
    async collect() {
      this.reset();
      const [newest] = await store.list(1);
      if (newest) this.set({ rollout: String(newest.id), state: newest.state }, 1);
    },
  });
  new Gauge({
    name: "tenants_stacks_differing_from_declaration", help: "Ready stacks whose applied declaration differs from what the service now declares (what `tenantctl rollout plan` would change; recomputed at most every ten minutes and when a rollout starts or ends)", registers,
    async collect() {
      this.set(await runner.differingCount());
    },
  });
}

/**
 * When pg-boss runs a failed job again, at the earliest. JobQueue.open gives it `retryDelay` =
 * round(backoffMs / 1000) seconds, with back-off only from 1 s; pg-boss 10 (src/plans.js, failJobs) then
 * waits `retry_delay * 2^min(16, retry_count + 1) / 2`, plus as much again times random() (jitter).
 */
function earliestRetryMs(backoffMs: number): (job: { retryCount: number }) => number {
  const seconds = Math.round(backoffMs / 1000);
  return (job) => (seconds >= 1 ? seconds * 1000 * 2 ** Math.min(16, job.retryCount + 1) / 2 : seconds * 1000);
}
