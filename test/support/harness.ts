import { createApp } from "../../src/api/app.js";
import { clientAddressOf } from "../../src/api/client-address.js";
import type { TrustProxy } from "../../src/config.js";
import type { Context } from "hono";
import { signWebhook } from "../../src/domain/webhook-signature.js";
import { createLogger, makeRedactor } from "../../src/log.js";
import { openPglite, type Db } from "../../src/store/db.js";
import type { Scheduler } from "../../src/store/embedded-scheduler.js";
import { migrate } from "../../src/store/migrations.js";
import { defaultTargetOf, targetsOf, type TenantSettings } from "../../src/domain/tenant-spec.js";
import type { Engine } from "../../src/provisioning/engine.js";
import { RecordingEngine } from "./recording-engine.js";
import { BillingService } from "../../src/metering/billing-service.js";
import type { GnocchiClient } from "../../src/metering/gnocchi-client.js";
import { DEFAULT_METERS, type Meters, type PriceList } from "../../src/domain/billing.js";
import type { DeliveryTarget } from "../../src/metering/billing-delivery.js";
import { SETTINGS } from "./settings.js";
import { JobQueue } from "../../src/store/job-queue.js";
import { assembleWorkers, type WorkerOptions } from "../../src/workers.js";
import type { TenantGuard } from "../../src/provisioning/tenant-guard.js";
import type { FleetSchedule } from "../../src/provisioning/ports.js";
import type { CloudesireConfig } from "../../src/config.js";

export const WEBHOOK_SECRET = "whsec-test-0123456789abcdef";
export const OPERATOR_TOKEN = "op-token-0123456789abcdef";
export const CUSTOMER_TOKEN_KEY = "customer-token-key-0123456789abcdef-0123";
export const CLOUDESIRE_EVENT_SECRET = "cd-harness-event-secret-0123";

/** The whole service in one process (in-memory PGlite, the engine double), with its logs captured. */
export function harness(opts: HarnessOptions = {}) {
  return harnessWith(new RecordingEngine(), opts);
}

export interface HarnessOptions {
  /** Finished progress streams kept in memory (0: as after a restart, only the store remains). */
  progressKept?: number;
  concurrency?: number;
  /** Of those, the most bulk (operator) jobs at once; all of them by default. */
  bulkSlots?: number;
  maxAttempts?: number;
  now?: () => number;
  settings?: TenantSettings;
  /** Wires billing runs to this Gnocchi client and price list. */
  billing?: { gnocchi: () => GnocchiClient; prices: PriceList; meters?: Meters; delivery?: DeliveryTarget; gnocchiOf?: (target: string) => GnocchiClient | undefined };
  /** Checks against a (fake) cloud before the engine runs. */
  guard?: TenantGuard;
  /** Webhook rate limit, per source given in the test header `x-test-source` (or the client address, with `trustProxy`). */
  webhookRateLimit?: { perSecond: number; burst: number };
  /** Failed authentications per source before 429 (none by default). */
  authFailureLimit?: { perSecond: number; burst: number };
  /** Sources are client addresses as the server finds them (over real HTTP) instead of the test header. */
  trustProxy?: TrustProxy;
  /** WEBHOOK_SECRET_PREVIOUS, accepted during a rotation. */
  previousWebhookSecret?: string;
  metricsToken?: string;
  /** A replica on this database (migrated, not emptied), with its own job queue client and poll interval. */
  replicaOf?: { db: Db; pollMs: number };
  /** Sells on Cloudesire: its API (a simulator), the notifications' secret; short back-offs. */
  cloudesire?: Partial<CloudesireConfig> & { apiUrl: string; token: string; eventSecret: string };
  /** How often the reconciler polls its queue once started. */
  pollMs?: number;
  /** The drift detector's look at the cloud before the engine's refresh preview. */
  driftObserve?: WorkerOptions["driftObserve"];
  /** The version of the program declaring tenants (a new one is a fleet change). */
  programVersion?: string;
  /** What the service still needs before it can provision (none: it can), asked before every operation. */
  readiness?: () => string[];
  /** What GET /v1/doctor reports (the service's own checks). */
  doctor?: Array<{ status: "ok" | "warn" | "fail"; check: string; message: string }>;
  /** Who goes first on the database (the embedded store's scheduler in production); none by default. */
  scheduler?: Scheduler;
  /** The drift schedule's interval (its timer is not started: tests call drift.scheduledSweep()); 0 by default. */
  driftIntervalSeconds?: number;
  /** Fleet-wide schedules shared with other replicas (store/fleet-schedule.ts); none: this one runs every run. */
  schedule?: FleetSchedule;
  /** Whether a request came over https (the session cookie is then Secure). */
  secure?: (c: Context) => boolean;
  /** The engine's own check (the real engine's, in server.ts); none: the double is always available. */
  engineCheck?: WorkerOptions["engineCheck"];
  /** Targets as the service checks them: whether each answers, and its Placement (as server.ts wires them). */
  targets?: WorkerOptions["targets"];
}

export const CLOUDESIRE_DEFAULTS: Omit<CloudesireConfig, "apiUrl" | "token" | "eventSecret"> = {
  dashboardUrl: "https://dashboard.cloud.example", documentationUrl: undefined, serviceUrl: undefined, eventSecretPrevious: undefined,
  items: { cores: "CPU_CORES", ramGb: "RAM_GB", diskGb: "DISK_GB", floatingIps: "IP_ADDRESSES" },
  paygPlans: [], productIds: ["12"], paygMode: "invoice", metricsHeader: "X-Metrics-Token", metricsToken: undefined, languages: ["en", "it"], timeoutMs: 1000, backoffMs: 20, maxBackoffMs: 200, pollMs: 25,
};

/** The same, around any engine. */
export async function harnessWith<E extends Engine>(engine: E, opts: HarnessOptions = {}) {
  const db = opts.replicaOf?.db ?? (await sharedDb());
  const settings = opts.settings ?? SETTINGS;
  const logs: string[] = [];
  const log = createLogger({ redact: makeRedactor([WEBHOOK_SECRET, OPERATOR_TOKEN, CLOUDESIRE_EVENT_SECRET, opts.cloudesire?.token, opts.cloudesire?.eventSecret]), write: (l) => logs.push(l), level: "debug" });
  const queue = opts.replicaOf
    ? await JobQueue.open(db, { maxAttempts: opts.maxAttempts ?? 3, backoffMs: 0, expireInSeconds: 3600 }, (e) => logs.push(`queue error: ${e.message}`))
    : await sharedQueue(db, opts.maxAttempts ?? 3);
  // The same wiring as the server (src/workers.ts); the drift schedule is off (tests sweep on demand).
  const cloudesireConfig = opts.cloudesire ? { ...CLOUDESIRE_DEFAULTS, ...opts.cloudesire } : undefined;
  const { store, intake, driftStore, billingStore, billingDeliveries, metrics, progress, reconciler, drift, cloudesire, rollouts, rolloutStore, operators, audit, capacity } = assembleWorkers({
    db, scheduler: opts.scheduler, queue, engine, log, settings, programVersion: opts.programVersion ?? "p-test", rolloutTickMs: 10, guard: opts.guard, progressKept: opts.progressKept, cloudesire: cloudesireConfig,
    readiness: opts.readiness, concurrency: opts.concurrency ?? 4, bulkSlots: opts.bulkSlots, pollMs: opts.replicaOf?.pollMs ?? opts.pollMs ?? 60_000, driftIntervalSeconds: opts.driftIntervalSeconds ?? 0, driftObserve: opts.driftObserve,
    retryBackoffMs: 0, // as both queues below are opened
    engineCheck: opts.engineCheck,
    customerTokenKey: CUSTOMER_TOKEN_KEY,
    ...(opts.billing ? { billing: { gnocchi: opts.billing.gnocchi, prices: opts.billing.prices, meters: opts.billing.meters ?? DEFAULT_METERS, granularitySeconds: 3600 } } : {}),
    ...(opts.billing?.delivery ? { billingDelivery: { pollMs: 20, ...opts.billing.delivery } } : {}),
    schedule: opts.schedule,
    targets: opts.targets,
  });
  // Deliveries are retried by their worker, as in the server (their first attempt is the billing run's own).
  billingDeliveries?.start();
  const billing = opts.billing
    ? {
        store: billingStore,
        service: new BillingService(billingStore, opts.billing.gnocchi, { prices: opts.billing.prices, meters: opts.billing.meters ?? DEFAULT_METERS, granularitySeconds: 3600 }, {
          deliveries: billingDeliveries, defaultTarget: defaultTargetOf(settings), gnocchiOf: opts.billing.gnocchiOf,
        }),
      }
    : undefined;
  const app = createApp({
    ...(billing ? { billing } : {}),
    store, intake, engine, reconciler, settings, log, metrics, progress, queue,
    drift: { store: driftStore, detector: drift },
    rollouts, capacity,
    ...(opts.targets?.problem ? { targetProblems: targetProblemsOf(settings, opts.targets.problem) } : {}),
    webhookSecret: WEBHOOK_SECRET, replayWindowSeconds: 300, operatorToken: OPERATOR_TOKEN, customerTokenKey: CUSTOMER_TOKEN_KEY, operators, audit,
    ...(opts.secure ? { secure: opts.secure } : {}),
    previousWebhookSecret: opts.previousWebhookSecret, metricsToken: opts.metricsToken,
    // Notifications are verified with a secret even when no Cloudesire API is configured (the routes are the service's).
    sellsOnCloudesire: cloudesireConfig !== undefined,
    cloudesire: {
      store: cloudesire.store, eventSecret: cloudesireConfig?.eventSecret ?? CLOUDESIRE_EVENT_SECRET, product: cloudesire.product, kick: cloudesire.kick,
      metrics: { header: cloudesireConfig?.metricsHeader ?? "X-Metrics-Token", token: cloudesireConfig?.metricsToken, usage: cloudesire.meteredUsage },
    },
    // What the server's health says when it cannot provision (details are for operators only).
    health: async () => ({ status: "degraded", ready: false, missing: ["the pulumi CLI is not on PATH"], openstack: { authUrl: "http://admin.example:5000/v3" } }),
    // What the service's own checks found (server.ts serviceDoctor runs them against the real things).
    doctor: async () => opts.doctor ?? [{ status: "ok", check: "pulumi", message: "pulumi CLI v3.248.0 (test double)" }],
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.webhookRateLimit ? { webhookRateLimit: opts.webhookRateLimit } : {}),
    ...(opts.authFailureLimit ? { authFailureLimit: opts.authFailureLimit } : {}),
    sourceOf: opts.trustProxy ? clientAddressOf(opts.trustProxy) : (c: { req: { header(n: string): string | undefined } }) => c.req.header("x-test-source") ?? "test",
  });

  const send = (body: unknown, o: { secret?: string; timestamp?: number; signature?: string | null; raw?: string; source?: string } = {}) => {
    const raw = o.raw ?? JSON.stringify(body);
    const ts = String(o.timestamp ?? Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = { "content-type": "application/json", "x-timestamp": ts };
    const sig = o.signature === undefined ? signWebhook(o.secret ?? WEBHOOK_SECRET, ts, raw) : o.signature;
    if (sig !== null) headers["x-signature"] = sig;
    if (o.source) headers["x-test-source"] = o.source;
    return app.request("/v1/events", { method: "POST", headers, body: raw });
  };
  const asOperator = (path: string, init: RequestInit = {}) =>
    app.request(path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${OPERATOR_TOKEN}` } });

  // The database outlives the harness (starting PGlite costs ~2 s): only its rows are dropped.
  const close = async () => {
    await billingDeliveries?.stop();
    await cloudesire.worker?.stop();
    await rollouts.stop();
    await reconciler.stop();
    // A replica owns its queue client; the shared one lives as long as the test file.
    if (opts.replicaOf) await queue.stop();
  };
  return { db, queue, store, intake, billingStore, billingDeliveries, cloudesire, driftStore, drift, metrics, progress, engine, reconciler, rollouts, rolloutStore, operators, audit, capacity, app, logs, send, asOperator, close };
}

let queues: Promise<JobQueue> | undefined;
let queueAttempts = 0;
/** One pg-boss per test file (its start costs time), its jobs dropped with the rows; re-opened if the attempts differ. */
async function sharedQueue(db: Db, maxAttempts: number): Promise<JobQueue> {
  if (queues && queueAttempts !== maxAttempts) {
    await (await queues).stop();
    queues = undefined;
  }
  queueAttempts = maxAttempts;
  queues ??= JobQueue.open(db, { maxAttempts, backoffMs: 0, expireInSeconds: 3600 }, (e) => {
    throw e;
  });
  const q = await queues;
  await db.exec("DELETE FROM jobs.job");
  return q;
}

let shared: Promise<Db> | undefined;
/** One in-memory PGlite per test file, emptied for each harness. */
async function sharedDb(): Promise<Db> {
  shared ??= openPglite().then(async (db) => {
    await migrate(db);
    return db;
  });
  const db = await shared;
  await db.exec("TRUNCATE subscriptions, events, operations, billing_runs, invoices, drift, cloudesire_notifications, cloudesire_subscriptions, cloudesire_outbox, rollouts, rollout_stacks, operators, operator_sessions, audit, unreadable_subscriptions, password_reset_links RESTART IDENTITY");
  return db;
}

/** Every target's problem now, by name (what server.ts's TargetHealth.all answers). */
function targetProblemsOf(settings: TenantSettings, problem: (target: string) => Promise<string | null>) {
  return async () => Object.fromEntries(await Promise.all(targetsOf(settings).map(async (t) => [t.name, await problem(t.name)] as const)));
}
