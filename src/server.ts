import { hostname } from "node:os";
import type { ServerType } from "@hono/node-server";
import { createApp } from "./api/app.js";
import { clientAddressOf, requestIsHttps, trustedOf } from "./api/client-address.js";
import { ConfigError, missingForCloudesire, missingForProvisioning, trustProxyWarning, type Config } from "./config.js";
import { listenHttp } from "./http-server.js";
import { createLogger, makeRedactor, type Logger } from "./log.js";
import type { Engine, EngineCheck } from "./provisioning/engine.js";
import { EngineHostClient } from "./provisioning/engine-host.js";
import { openDb } from "./store/db.js";
import { migrate } from "./store/migrations.js";
import type { SubscriptionStore } from "./store/subscription-store.js";
import type { Reconciler } from "./provisioning/reconciler.js";
import type { DriftDetector } from "./provisioning/drift.js";
import type { BillingStore } from "./store/billing-store.js";
import { BillingService } from "./metering/billing-service.js";
import { sharedSchedule } from "./store/fleet-schedule.js";
import { GnocchiClient } from "./metering/gnocchi-client.js";
import { unavailable } from "./domain/errors.js";
import { doctor, type Finding } from "./openstack/doctor.js";
import { cloudesireDoctor } from "./marketplaces/cloudesire/doctor.js";
import { JobQueue } from "./store/job-queue.js";
import { CloudClient } from "./openstack/cloud-client.js";
import { tenantPrecheck } from "./provisioning/drift-precheck.js";
import { CloudGuard, TargetGuards, type TenantGuard } from "./provisioning/tenant-guard.js";
import { TargetHealth } from "./openstack/target-health.js";
import { placementCapacity } from "./openstack/placement.js";
import type { CapacityTarget } from "./provisioning/capacity.js";
import { defaultTargetOf } from "./domain/tenant-spec.js";
import { assembleWorkers } from "./workers.js";
import { provisioningReadiness, withEngineCheck } from "./provisioning/readiness.js";

/** How long the engine host stays up without a call; it starts again in a second or two on the next one. */
const ENGINE_HOST_IDLE_MS = 60_000;
/**
 * How long the health check trusts the engine's last check: a plugin installed by the operator shows
 * within a minute, and a scraped /healthz does not wake the engine host (and run `pulumi plugin ls`) each time.
 */
const ENGINE_CHECK_MS = 60_000;

/** `check`, run at most once per `ms` (one at a time); a failed run is not kept. */
function checkedEvery<T>(ms: number, check: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > ms) {
      const value = check();
      last = { at: Date.now(), value };
      value.catch(() => (last = undefined));
    }
    return last.value;
  };
}

export interface RunningService {
  url: string;
  port: number;
  reconciler: Reconciler;
  store: SubscriptionStore;
  drift: DriftDetector;
  billingStore: BillingStore;
  cloudesire: ReturnType<typeof assembleWorkers>["cloudesire"];
  close(): Promise<void>;
}

/**
 * Starts the HTTP service and the reconcile workers. `engine`/`log` are replaceable for tests; `driftCloud`
 * is the cloud the drift pre-check reads, for an engine double (the scale bench's cloud double): without
 * it, the configured cloud's, and none with an engine override (a double's stacks are in no real cloud).
 */
export async function startService(
  config: Config,
  overrides: { engine?: Engine; log?: Logger; guard?: TenantGuard; driftCloud?: CloudClient; readiness?: () => string[]; engineCheckMs?: number } = {},
): Promise<RunningService> {
  const redact = makeRedactor(config.secrets);
  const log = overrides.log ?? createLogger({ redact, level: config.logLevel });
  if (config.dataDirAdopted) log.info("data directory of an earlier version adopted: marked as the service's, only its own entries are ever changed", { dataDir: config.dataDir });
  const settings = { ...config.tenant };
  const { db, scheduler } = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrate(db);
  // The real engine runs in a child process (engine-host.ts): the service itself never loads @pulumi/pulumi.
  const host = overrides.engine
    ? undefined
    : new EngineHostClient({
        engine: {
          workDir: config.pulumi.workDir,
          backendUrl: config.pulumi.backendUrl,
          passphrase: config.pulumi.passphrase,
          openstackEnv: config.openstack.env,
          secrets: config.secrets,
          inlineProgram: config.pulumi.inlineProgram,
        },
        env: config.pulumi.hostEnv,
        onLine: (line) => log.warn("engine host output", { line }),
        // A minute without engine calls (a quiet queue, sweeps that find no drift): the SDK leaves memory.
        idleMs: ENGINE_HOST_IDLE_MS,
      });
  const engine = overrides.engine ?? host!;
  const queue = await JobQueue.open(db, { maxAttempts: config.reconcile.maxAttempts, backoffMs: config.reconcile.backoffMs, expireInSeconds: config.reconcile.jobTimeoutSeconds }, (e) =>
    log.error("job queue error", { error: e.message }),
  );
  // The cloud is checked before updates (downsizes) and destroys (leftovers) when we can reach it.
  const cloud = config.openstack.admin ? new CloudClient(config.openstack.admin) : undefined;
  // Each target's admin in its region (the default's is `cloud` when TARGETS_FILE does not change it).
  const targetClouds = cloudsOfTargets(config, cloud);
  const guardOptions = { policy: config.cancellation.orphanPolicy, pollMs: 2000, timeoutMs: config.cancellation.purgeTimeoutSeconds * 1000 };
  const guard = overrides.guard ?? (targetClouds.size > 0
    ? new TargetGuards(new Map([...targetClouds].map(([name, c]) => [name, new CloudGuard(c, guardOptions)])), defaultTargetOf(settings))
    : undefined);
  const precheckCloud = overrides.driftCloud ?? (overrides.engine ? undefined : cloud);
  // An engine double's stacks are in no real cloud: its targets are neither probed nor measured. One
  // target alone is not probed: a cloud that is down fails its operations (retried) as it always did;
  // with several, a down one holds only its own tenants (bulkheads).
  const targetHealth = overrides.engine || config.targets.length < 2 ? undefined : new TargetHealth(targetClouds);
  const capacityTargets: CapacityTarget[] | undefined = overrides.engine ? undefined : config.targets.map((t) => {
    const c = targetClouds.get(t.placement.name);
    return { name: t.placement.name, selling: t.selling, placement: c ? () => placementCapacity(c) : null };
  });
  // An engine double (benches) needs neither the CLI nor credentials.
  // The real engine's own check (plugins, language host) joins it: `engineCheck` below reports each result.
  const engineReadiness = host && !overrides.readiness
    ? withEngineCheck(provisioningReadiness({ credentialsProblem: config.openstack.problem, searchPath: config.pulumi.searchPath }), () => void engineCheck())
    : undefined;
  const readiness = overrides.readiness ?? engineReadiness?.readiness;
  // The engine's check, shared by /healthz, doctor, readiness and the engine-available gauge (at most once a minute).
  const engineCheck: () => Promise<EngineCheck> = host ? checkedEvery(overrides.engineCheckMs ?? ENGINE_CHECK_MS, () =>
        host.check().then(
          (check) => {
            engineReadiness?.seen(check);
            return check;
          },
          (e: unknown) => ({ cli: null, problems: [`the engine could not be checked: ${e instanceof Error ? e.message : String(e)}`], blocking: [], cliTooOld: null }),
        )) : () => Promise.resolve({ cli: "test engine", problems: [], blocking: [], cliTooOld: null });
  // The Gnocchi of each target that has its own: billing runs, closing invoices and metric polls read there.
  const gnocchiOfTargets = targetGnocchis(config);
  const { store, intake, driftStore, billingStore, billingDeliveries, metrics, progress, reconciler, drift, cloudesire, rollouts, operators, audit, capacity } = assembleWorkers({
    db, scheduler, queue, engine, log, settings, guard, readiness, defaultMetrics: true, engineCheck, cloudesire: config.cloudesire, customerTokenKey: config.customerTokenKey,
    billing: { gnocchi: () => gnocchiClientOf(config), gnocchiOf: gnocchiOfTargets, prices: config.metering.prices, meters: config.metering.meters, granularitySeconds: config.metering.granularitySeconds },
    // Drift sweeps look at the cloud first and pay for a refresh preview only where it differs (issue 16).
    driftObserve: precheckCloud ? tenantPrecheck({ client: precheckCloud, clients: targetClouds, settings, log }) : undefined,
    targets: capacityTargets ? { problem: targetHealth ? (t) => targetHealth.problem(t) : undefined, capacity: capacityTargets } : undefined,
    concurrency: config.reconcile.concurrency, bulkSlots: config.reconcile.bulkSlots, pollMs: config.reconcile.pollMs, driftIntervalSeconds: config.driftIntervalSeconds,
    retryBackoffMs: config.reconcile.backoffMs,
    // Replicas on one PostgreSQL share each schedule's runs; the embedded database has one process.
    schedule: config.databaseUrl ? sharedSchedule(db, `${hostname()}:${process.pid}`) : undefined,
    billingDelivery: config.metering.delivery ?? undefined,
  });

  const missing = [...missingForProvisioning(config), ...missingForCloudesire(config.cloudesire)];
  // The cloud is checked at start, in the background: a slow Keystone must not delay webhooks' 202s.
  let cloudFindings: Finding[] | "checking" | "not configured" = config.openstack.admin ? "checking" : "not configured";
  const cloudCheck = config.openstack.admin
    ? doctor(config.openstack.credentials, config.tenant.memberRole).then((f) => {
        cloudFindings = f;
        for (const x of f) (x.status === "ok" ? log.info : log.warn)(`openstack ${x.check}: ${x.message}`);
      })
    : Promise.resolve();
  // The engine is checked once before the service listens: a CLI too old for the engine refuses the start
  // (one line); a missing CLI or plugin does not (operations wait, /healthz says what is missing).
  const firstCheck = await engineCheck();
  if (firstCheck.cliTooOld) {
    await host?.close();
    await db.close();
    throw new ConfigError(firstCheck.problems[0] ?? `the pulumi CLI v${firstCheck.cliTooOld} is too old`);
  }
  const billing = new BillingService(billingStore, () => gnocchiClientOf(config), config.metering, {
    deliveries: billingDeliveries, gnocchiOf: gnocchiOfTargets, defaultTarget: defaultTargetOf(settings),
  });
  const app = createApp({
    doctor: () => serviceDoctor(config, engineCheck()),
    billing: { service: billing, store: billingStore },
    store, intake, engine, reconciler, settings, log, metrics, progress, queue,
    drift: { store: driftStore, detector: drift },
    rollouts, capacity, targetProblems: targetHealth ? () => targetHealth.all() : undefined,
    webhookSecret: config.webhookSecret,
    previousWebhookSecret: config.webhookSecretPrevious,
    replayWindowSeconds: config.replayWindowSeconds,
    ...(config.webhookRateLimit ? { webhookRateLimit: config.webhookRateLimit } : {}),
    authFailureLimit: config.authFailureLimit,
    sourceOf: clientAddressOf(config.trustProxy),
    secure: requestIsHttps(config.trustProxy),
    operatorToken: config.operatorToken,
    operators, audit,
    customerTokenKey: config.customerTokenKey,
    metricsToken: config.metricsToken,
    sellsOnCloudesire: cloudesire.worker !== undefined,
    cloudesire: {
      store: cloudesire.store, eventSecret: config.cloudesire.eventSecret, previousEventSecret: config.cloudesire.eventSecretPrevious, product: cloudesire.product, kick: cloudesire.kick,
      metrics: { header: config.cloudesire.metricsHeader, token: config.cloudesire.metricsToken, usage: cloudesire.meteredUsage },
    },
    // Strangers see `status` only; every other field (add more here) is shown with the operator token.
    health: async () => {
      await db.query("SELECT 1");
      const engineNow = await engineCheck();
      // Asked now (a CLI installed since the start is found), as operations ask it before they begin; the
      // engine's own check (version, plugin) beside it, unless it only repeats that the CLI is missing.
      const notReady = readiness ? readiness() : [];
      const cliMissing = notReady.some((l) => l.includes("pulumi CLI"));
      const all = [...new Set([...missing, ...notReady, ...(cliMissing && engineNow.cli === null ? [] : engineNow.problems)])];
      const failed = Array.isArray(cloudFindings) ? cloudFindings.filter((f) => f.status === "fail").map((f) => `openstack ${f.check}: ${f.message}`) : [];
      all.push(...failed);
      const cloudesireProblem = cloudesire.worker?.readProblem();
      if (cloudesireProblem) all.push(cloudesireProblem);
      // With several targets, each one's reachability: a down one degrades the service (its tenants wait).
      const targets = targetHealth ? await targetHealth.all() : undefined;
      for (const p of Object.values(targets ?? {})) if (p) all.push(p);
      // A changed config (quota defaults, limits, region) or program is visible unasked: `tenantctl rollout plan` says how.
      const differing = await rollouts.differingCount();
      const waiting = await store.countInPhase("waiting");
      return {
        // Purchases accepted while something above is missing: held, not failed; they go on by themselves.
        waitingForConfiguration: waiting,
        status: all.length === 0 ? "ok" : "degraded", ready: all.length === 0, missing: all, openstack: cloudFindings, database: config.databaseUrl ? "postgresql" : "embedded", engine: engineNow.cli ?? "unavailable", provider: engineNow.provider ?? "unavailable",
        declarations: differing === 0 ? "every ready stack declares what the service would" : `${differing} ready stacks differ from what the service now declares: see tenantctl rollout plan`,
        ...(targets ? { targets } : {}),
      };
    },
  });

  // The proxies named in TRUST_PROXY carry every client's connections: they are not bound per source.
  const server: ServerType = await listenHttp(app.fetch, { port: config.port, hostname: config.host, limits: config.http, unbound: trustedOf(config.trustProxy) });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  reconciler.start();
  rollouts.start();
  drift.start();
  cloudesire.worker?.start();
  billingDeliveries?.start();

  log.info("service started", {
    url: `http://${config.host}:${port}`,
    database: config.databaseUrl ? "postgresql (DATABASE_URL)" : `embedded (${config.dataDir}/pglite)`,
    pulumiBackend: config.pulumi.backendUrl,
    operatorAuth: config.operatorTokenFile ? `generated, in ${config.operatorTokenFile}` : "from OPERATOR_TOKEN",
  });
  for (const m of missing) log.warn(`not ready to provision: ${m}`);
  const proxyWarning = trustProxyWarning(config.trustProxy, config.host);
  if (proxyWarning) log.warn(proxyWarning);
  if (config.webhookSecretPrevious) log.warn("WEBHOOK_SECRET_PREVIOUS is accepted too: remove it once the marketplace signs with the new WEBHOOK_SECRET (requests signed with it are logged with signedWith=previous)");
  for (const p of firstCheck.problems) log.warn(`not ready to provision: ${p}`);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    reconciler,
    store,
    drift,
    billingStore,
    cloudesire,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await cloudesire.worker?.stop();
      await billingDeliveries?.stop();
      await drift.stop();
      await rollouts.stop();
      await reconciler.stop();
      await queue.stop();
      await host?.close();
      await cloudCheck;
      await db.close();
    },
  };
}

/**
 * `tenantctl doctor` (GET /v1/doctor): the service's configuration checked now, from where it runs: the
 * webhook secret, the pulumi CLI, the cloud (credentials, member role, catalog, a quota read per
 * service), and Cloudesire when it sells there.
 */
export async function serviceDoctor(config: Config, engineCheck: Promise<EngineCheck>, fetchImpl: typeof fetch = fetch): Promise<Finding[]> {
  const sellsOnCloudesire = Boolean(config.cloudesire.apiUrl || config.cloudesire.token || config.cloudesire.eventSecret);
  // Every target beyond the first whose admin differs (another cloud, or another region): its own checks.
  const others = config.targets.slice(1).filter((t) => t.credentials !== config.openstack.credentials);
  const [engine, cloud, cloudesire, ...targets] = await Promise.all([
    engineCheck,
    doctor(config.openstack.credentials, config.tenant.memberRole, fetchImpl),
    sellsOnCloudesire ? cloudesireDoctor(config.cloudesire, fetchImpl, config.tenant.limits) : Promise.resolve([]),
    ...others.map((t) => doctor(t.credentials, t.placement.memberRole, fetchImpl)),
  ]);
  return [
    config.webhookSecret
      ? { status: "ok", check: "webhook secret", message: "WEBHOOK_SECRET is set: marketplace events are verified" }
      : { status: "fail", check: "webhook secret", message: "WEBHOOK_SECRET is not set: webhooks are refused until it is" },
    // The engine's check: the CLI (its version), the provider plugin, the language host (PulumiEngine.check).
    ...(engine.problems.length === 0 && engine.cli
      ? [{ status: "ok" as const, check: "pulumi", message: `${engine.cli}; OpenStack provider: ${engine.provider ?? "installed"}` }]
      : engine.problems.map((message) => ({ status: "fail" as const, check: "pulumi", message }))),
    ...cloud.map((f) => ({ ...f, check: `openstack ${f.check}` })),
    ...targets.flatMap((findings, i) => findings.map((f) => ({ ...f, check: `openstack[${others[i]?.placement.name}] ${f.check}` }))),
    ...cloudesire.map((f) => ({ ...f, check: `cloudesire ${f.check}` })),
  ];
}

/** Gnocchi, authenticated like the rest of the cloud (Keystone admin credentials) unless basic auth is configured. */
export function gnocchiClientOf(config: Config): GnocchiClient {
  const auth = config.metering.gnocchiAuth;
  if (auth.kind === "basic") return new GnocchiClient({ url: config.metering.gnocchiUrl, auth });
  if (!config.openstack.admin) throw unavailable(`billing needs Gnocchi: ${config.openstack.problem ?? "no OpenStack admin credentials"}`);
  return new GnocchiClient({ url: config.metering.gnocchiUrl, auth: { kind: "keystone", credentials: config.openstack.admin } });
}

/** Each target's admin (in its region), by name: the default target's is `cloud` when its credentials are the default's own. */
function cloudsOfTargets(config: Config, cloud: CloudClient | undefined): Map<string, CloudClient> {
  const out = new Map<string, CloudClient>();
  for (const t of config.targets) {
    if (!t.credentials.ok) continue;
    const same = cloud && t.credentials.credentials === config.openstack.admin;
    out.set(t.placement.name, same ? cloud : new CloudClient(t.credentials.credentials));
  }
  return out;
}

/**
 * The Gnocchi of each target whose tenants' usage is elsewhere than the default's: a `gnocchiUrl` of its
 * own, or (none configured anywhere) its region's `metric` endpoint in the catalog. Keystone-authenticated
 * with the target's admin; a target in the default's Gnocchi is measured with the default's requests.
 */
function targetGnocchis(config: Config): (target: string) => GnocchiClient | undefined {
  const own = new Map<string, GnocchiClient>();
  for (const t of config.targets.slice(1)) {
    if (!t.credentials.ok || config.metering.gnocchiAuth.kind !== "keystone") continue;
    const elsewhere = t.gnocchiUrl !== config.metering.gnocchiUrl || (t.gnocchiUrl === undefined && t.credentials !== config.openstack.credentials);
    if (elsewhere) own.set(t.placement.name, new GnocchiClient({ url: t.gnocchiUrl, auth: { kind: "keystone", credentials: t.credentials.credentials } }));
  }
  return (target) => own.get(target);
}
