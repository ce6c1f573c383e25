import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { DEFAULT_QUOTA_DEFAULTS, QuotaDefaults } from "./domain/quota.js";
import type { PlanLimits } from "./domain/plan.js";
import type { TenantSettings } from "./domain/tenant-spec.js";
import { DEFAULT_METERS, Meters, PriceList } from "./domain/billing.js";
import type { DeliveryTarget } from "./metering/billing-delivery.js";
import type { CloudesireSettings } from "./marketplaces/cloudesire/settings.js";
import { openstackEnvOf, readAdminCredentials, type AdminCredentials, type CredentialResult } from "./openstack/credentials.js";
import { readTargets, TargetsFileError, type TargetConfig } from "./openstack/targets.js";
import { claimDataDir, closeOwnEntries, DATA_DIR_ENTRIES, ensurePrivateDir, restrictNewFilesToOwner } from "./data-dir.js";

/** One operation per core (os.availableParallelism: the cores this process may use), and two at least: a purchase's slot and bulk work's. */
const DEFAULT_CONCURRENCY = Math.max(2, availableParallelism());
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
/** What a variable means (and, where the default is computed, what it is): the README's reference is generated from these. */
const doc = <T extends z.ZodType>(schema: T, description: string, defaultText?: string): T => schema.meta({ description, ...(defaultText ? { defaultText } : {}) });

/** Every environment variable the service reads, with its default and meaning: the README's reference table. */
export const EnvSchema = z.object({
  PORT: doc(int(8080, 0).pipe(z.number().max(65535)), "where the HTTP API listens", "`8080`"),
  HOST: doc(z.string().default("0.0.0.0"), "the address the HTTP API binds"),
  DATA_DIR: doc(z.string().default("./data"), "embedded database, file Pulumi backend, generated secrets; a new or empty directory of the service's own (marked at the first start): a shared one (`/tmp`, another user's) or one holding anything else is refused"),
  WEBHOOK_SECRET: doc(z.string().min(16, "WEBHOOK_SECRET must be at least 16 characters").optional(), "HMAC key shared with the marketplace, at least 16 characters", "none: webhooks refused with 503"),
  WEBHOOK_SECRET_PREVIOUS: doc(z.string().min(16, "WEBHOOK_SECRET_PREVIOUS must be at least 16 characters").optional(), "the secret being replaced while the marketplace switches to a new `WEBHOOK_SECRET`: also accepted until it is removed (rotation without downtime)", "none"),
  WEBHOOK_REPLAY_WINDOW_SECONDS: doc(int(300, 1), "accepted clock skew of `X-Timestamp`, and how far in the future an event's `occurredAt` may be"),
  WEBHOOK_RATE_PER_SECOND: doc(int(50, 0), "webhook requests per second per source address, sustained (0: no limit); beyond it, 429"),
  WEBHOOK_RATE_BURST: doc(int(200, 1), "webhook requests a source may send at once before the rate applies"),
  TRUST_PROXY: doc(z.string().optional(), "whose `X-Forwarded-For` names the client (rate limits, auth throttling): the number of proxies in front of the service, or a comma list of the proxies' addresses and CIDRs. A number believes the header from *any* peer: then the service must be reachable only through those proxies (a client connecting directly picks its own address); the addresses' form believes only the proxies", "off: the socket's peer"),
  HTTP_HEADERS_TIMEOUT_SECONDS: doc(int(10, 1), "a client must have sent a request's headers within this time, else its connection is closed (Node's default: 60 s)"),
  HTTP_REQUEST_TIMEOUT_SECONDS: doc(int(30, 1), "a client must have sent a whole request (headers and body) within this time, else 408 and the connection is closed (Node's default: 300 s); answers, event streams included, are not bound by it"),
  HTTP_MAX_CONNECTIONS: doc(int(1000, 1), "open client connections at once; more are closed as they arrive (Node's default: no cap)"),
  HTTP_MAX_CONNECTIONS_PER_SOURCE: doc(int(100, 1), "open connections from one source address at once (an IPv6 client counts per /64); more are closed as they arrive, so one client cannot hold all of HTTP_MAX_CONNECTIONS and lock the marketplace and operators out. The proxies named in TRUST_PROXY's addresses are not bound by it; behind a number of proxies (TRUST_PROXY=1) every client arrives from the proxy: set it to HTTP_MAX_CONNECTIONS and bound clients at the proxy"),
  AUTH_FAILURES_PER_MINUTE: doc(int(10, 1), "failed authentications (operator, customer or metrics token, webhook signature) a source may make per minute, sustained; beyond, 429 with `Retry-After` even for a right token (a correctly signed webhook or notification is never refused for its source's failures)"),
  AUTH_FAILURE_BURST: doc(int(20, 1), "failed authentications a source may make at once before that rate applies"),
  OPERATOR_TOKEN: doc(z.string().min(16, "OPERATOR_TOKEN must be at least 16 characters").optional(), "bearer token of the operator endpoints and the CLI", "generated into `DATA_DIR/operator-token`"),
  CUSTOMER_TOKEN_KEY: doc(z.string().min(32, "CUSTOMER_TOKEN_KEY must be at least 32 characters").optional(), "key the customers' credentials tokens are derived from (HMAC of subscription and token generation); replicas share it", "generated into `DATA_DIR/customer-token-key`"),
  METRICS_TOKEN: doc(z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(), "bearer token `/metrics` requires (the operator token also works)", "none: `/metrics` is open"),
  DATABASE_URL: doc(z.string().url().optional(), "a real PostgreSQL, e.g. `postgres://u:p@db:5432/tenants`", "none: embedded PGlite in `DATA_DIR/pglite`"),
  PULUMI_BACKEND_URL: doc(z.string().min(1).optional(), "any Pulumi backend (S3, PostgreSQL, Pulumi Cloud)", "`file://$DATA_DIR/pulumi`"),
  PULUMI_PROGRAM: doc(z.enum(["local", "inline"]).default("local"), "how the engine runs the tenant program: `local`, Pulumi.yaml's `main` through the CLI's `pulumi-language-nodejs` (the official CLI archive has it), or `inline`, through the Automation API's own language runtime in the engine host (for a CLI without the language host)"),
  PULUMI_WORK_DIR: doc(z.string().min(1).optional(), "the Pulumi project directory the engine runs in: its `Pulumi.yaml` and the `stacks/` the service writes each stack's config into (operators preview from there); it must hold a `Pulumi.yaml` (the repository's, its `main` the program's absolute path)", "the repository root"),
  PULUMI_CONFIG_PASSPHRASE: doc(z.string().min(1).optional(), "passphrase secrets provider of the stacks", "generated into `DATA_DIR/pulumi-passphrase`"),
  TENANT_DOMAIN_ID: doc(z.string().min(1).default("default"), "Keystone domain of the projects and users"),
  TENANT_MEMBER_ROLE: doc(z.string().min(1).default("member"), "role granted to the customer's user on its project"),
  TENANT_REGION: doc(z.string().min(1).optional(), "region of the quota sets and of the customer's credentials", "`OS_REGION_NAME`, else `RegionOne`"),
  TENANT_AUTH_URL: doc(z.string().url().optional(), "the Keystone URL customers are told to use", "the admin auth URL"),
  TARGETS_FILE: doc(z.string().optional(), "YAML (or JSON) naming several clouds and regions to sell tenants in, each with its selling policy (see Targets); what a target leaves out is the default configuration's", "none: one target, `default`, the cloud and region configured above"),
  PLAN_MAX_CORES: doc(int(64, 1), "most cores a prepaid plan may buy (more is a 422); the PAYG ceiling"),
  PLAN_MAX_RAM_GB: doc(int(256, 1), "most GB of RAM a prepaid plan may buy; the PAYG ceiling"),
  PLAN_MAX_DISK_GB: doc(int(2000, 1), "most GB of disk a prepaid plan may buy; the PAYG ceiling"),
  PLAN_MAX_FLOATING_IPS: doc(int(16, 0), "most IP addresses a prepaid plan may buy; the PAYG ceiling"),
  QUOTA_DEFAULTS_FILE: doc(z.string().optional(), "JSON with the quota fields that plans do not decide (see Quotas)", "built in"),
  RECONCILE_CONCURRENCY: doc(
    int(DEFAULT_CONCURRENCY, 1),
    "stack operations on different subscriptions at once. Each is a `pulumi` process, its provider and the engine host's program, busy on CPU between Keystone's answers, so beyond the cores they queue on the CPU (bench/real-engine.ts, 8 purchases at once on 2 cores with the test cloud beside: 22.1 s with 1, 18.5 s with 2, 17.6 s with 4, each `pulumi` and provider pair ~155 MiB more)",
    "the machine's cores, at least 2",
  ),
  RECONCILE_CUSTOMER_SLOTS: doc(int(1, 0), "of those, slots operators' bulk work (rollouts, drift repairs, retries, rotations) may never take: a purchase starts at once even during a rollout; bulk work always keeps at least one slot"),
  RECONCILE_MAX_ATTEMPTS: doc(int(5, 1), "attempts of a job whose failures are transient (then: failed, dead letter)"),
  RECONCILE_BACKOFF_MS: doc(int(2000, 0), "first retry delay, doubled (with jitter) each attempt; whole seconds, below 1 s: at once"),
  RECONCILE_POLL_MS: doc(int(2000, 50), "how often the job queue is polled for work not signalled here (retries due, after a restart)"),
  RECONCILE_JOB_TIMEOUT_SECONDS: doc(int(3600, 60), "a job active this long belongs to a dead worker: the queue fails and retries it"),
  ORPHAN_POLICY: doc(z.enum(["purge", "hold"]).default("purge"), "on cancellation, what the project still has (servers, volumes, networks…): `purge` it in dependency order, or `hold` the cancellation (phase `held`) listing it"),
  PURGE_TIMEOUT_SECONDS: doc(int(600, 10), "how long a purge waits for servers, snapshots and volumes to be gone"),
  DRIFT_INTERVAL_SECONDS: doc(int(3600, 0), "seconds between drift sweeps over every ready stack; 0: on demand only"),
  PRICES_FILE: doc(z.string().optional(), "the price list of pay-as-you-go billing (JSON, see Metering)", "none: billing runs refused with 503"),
  METERS_FILE: doc(z.string().optional(), "which Gnocchi metrics and resource types are billed (JSON)", "Ceilometer defaults"),
  GNOCCHI_URL: doc(z.string().url().optional(), "Gnocchi's URL, if it is not to be found through Keystone", "the catalog's `metric` endpoint (keystone auth)"),
  GNOCCHI_AUTH_MODE: doc(z.enum(["keystone", "basic"]).default("keystone"), "`keystone` (tokens from the admin credentials, as real clouds) or `basic`"),
  GNOCCHI_BASIC_USER: doc(z.string().min(1).default("admin"), "the user of `basic` auth"),
  BILLING_GRANULARITY_SECONDS: doc(int(3600, 1), "the archive granularity read from Gnocchi"),
  BILLING_WEBHOOK_URL: doc(z.string().url().optional(), "where finished billing runs are POSTed, signed with `BILLING_WEBHOOK_SECRET`: a durable job per run, 12 attempts over about 50 minutes (restarts included), then dead until redelivered", "none"),
  BILLING_WEBHOOK_SECRET: doc(z.string().min(16, "BILLING_WEBHOOK_SECRET must be at least 16 characters").optional(), "HMAC key of billing deliveries (`X-Signature`, as our webhooks); required with `BILLING_WEBHOOK_URL`, never the marketplace's `WEBHOOK_SECRET`", "none"),
  TENANTCTL_URL: doc(z.string().url().optional(), "(CLI only) the service the CLI talks to", "`http://127.0.0.1:$PORT`"),
  LOG_LEVEL: doc(z.enum(["debug", "info", "warn", "error"]).default("info"), "JSON logs (pino) on stderr; secrets redacted"),
  // --- Selling on Cloudesire (its syndication protocol; README "Selling on Cloudesire") ---
  CLOUDESIRE_API_URL: doc(z.string().url().optional(), "Cloudesire's marketplace API, ending in `/api` (e.g. `https://backend.example-marketplace.com/api`)", "none: notifications are stored, not read"),
  CLOUDESIRE_TOKEN: doc(z.string().min(1).optional(), "the vendor's permanent API token, sent as `CMW-Auth-Token`", "none"),
  // Cloudesire holds a product's notification secret in at most 64 characters (SyndicationEndpointDTO.secret @Size(max = 64)).
  CLOUDESIRE_EVENT_SECRET: doc(z.string().min(16, "CLOUDESIRE_EVENT_SECRET must be at least 16 characters").max(64, "CLOUDESIRE_EVENT_SECRET must be at most 64 characters (Cloudesire keeps no longer secret)").optional(), "the product's secret token (16 to 64 characters, as Cloudesire holds it): notifications must carry `CMW-Event-Signature: sha1=<HMAC>` of it", "none: notifications refused with 503"),
  CLOUDESIRE_EVENT_SECRET_PREVIOUS: doc(z.string().min(16, "CLOUDESIRE_EVENT_SECRET_PREVIOUS must be at least 16 characters").max(64, "CLOUDESIRE_EVENT_SECRET_PREVIOUS must be at most 64 characters").optional(), "while the product's secret is rotated: the previous one, still accepted (remove it once Cloudesire signs with the new one)", "none"),
  CLOUDESIRE_DASHBOARD_URL: doc(z.string().url().refine((u) => u.startsWith("https://"), "CLOUDESIRE_DASHBOARD_URL must be an https:// URL (Cloudesire requires HTTPS endpoints)").optional(), "the cloud's dashboard (HTTPS), posted as the customer's `APP` endpoint", "none: the tenant's identity (Keystone) URL if HTTPS (healthz says so)"),
  CLOUDESIRE_DOCUMENTATION_URL: doc(z.string().url().refine((u) => u.startsWith("https://"), "CLOUDESIRE_DOCUMENTATION_URL must be an https:// URL (Cloudesire requires HTTPS endpoints)").optional(), "the customers' guide (HTTPS), posted as a `DOCUMENTATION` endpoint", "none"),
  CLOUDESIRE_SERVICE_URL: doc(z.string().url().refine((u) => u.startsWith("https://"), "CLOUDESIRE_SERVICE_URL must be an https:// URL (Cloudesire requires HTTPS endpoints)").optional(), "this service's public URL (HTTPS): each customer gets a `PASSWORD_RESET` endpoint to a page of it where they set a new password", "none: no password-reset endpoint"),
  CLOUDESIRE_ITEM_CORES: doc(z.string().min(1).default("CPU_CORES"), "billing-item identifier of the CPU cores bought"),
  CLOUDESIRE_ITEM_RAM_GB: doc(z.string().min(1).default("RAM_GB"), "billing-item identifier of the GB of RAM bought"),
  CLOUDESIRE_ITEM_DISK_GB: doc(z.string().min(1).default("DISK_GB"), "billing-item identifier of the GB of disk bought"),
  CLOUDESIRE_ITEM_IP_ADDRESSES: doc(z.string().min(1).default("IP_ADDRESSES"), "billing-item identifier of the IP addresses bought"),
  CLOUDESIRE_PAYG_PLANS: doc(z.string().regex(/^[0-9]*(,[0-9]+)*$/, "CLOUDESIRE_PAYG_PLANS: comma-separated productVersion ids").default(""), "comma-separated ids of the plans (productVersion) sold pay-as-you-go: they get the PAYG ceilings", "none"),
  CLOUDESIRE_PRODUCT_IDS: doc(z.string().regex(/^[0-9]*(,[0-9]+)*$/, "CLOUDESIRE_PRODUCT_IDS: comma-separated product ids").default(""), "comma-separated ids of the Cloudesire products this service sells (required to sell): an endpoint set at vendor or platform level hears every product's subscriptions, and the others are acknowledged, left alone and counted", "none: nothing is sold (healthz and doctor fail)"),
  CLOUDESIRE_TARGET_PARAMETER: doc(z.string().min(1).optional(), "the code of the product's configuration parameter that names the target (region) a customer buys in: its values are served at `/v1/cloudesire/configuration-parameter-values` (the targets that can host a plan now), order validation checks the target chosen", "none: every Cloudesire tenant in the default target"),
  CLOUDESIRE_PAYG_MODE: doc(z.enum(["invoice", "metrics"]).default("invoice"), "how PAYG usage reaches Cloudesire: `invoice` (our billing runs push invoice lines) or `metrics` (Cloudesire polls `/v1/cloudesire/metrics/{meter}` and bills with the plan's prices; nothing is pushed)"),
  CLOUDESIRE_METRICS_HEADER: doc(z.string().regex(/^[A-Za-z0-9-]+$/, "CLOUDESIRE_METRICS_HEADER: an HTTP header name").default("X-Metrics-Token"), "the custom header configured on the product's metrics, sent by Cloudesire with each poll"),
  CLOUDESIRE_METRICS_TOKEN: doc(z.string().min(16, "CLOUDESIRE_METRICS_TOKEN must be at least 16 characters").optional(), "the value of that header: metric polls without it are refused", "none: metric polls refused with 503"),
  CLOUDESIRE_LANGUAGES: doc(z.string().regex(/^[a-z]{2}(,[a-z]{2})*$/, "CLOUDESIRE_LANGUAGES: comma-separated ISO 639-1 codes (en,it)").default("en,it"), "the marketplace's languages: instructions and credentials' descriptions are posted in each (English and Italian are written; another gets the English text)"),
  CLOUDESIRE_TIMEOUT_MS: doc(int(10_000, 100), "timeout of one call to Cloudesire's API"),
  CLOUDESIRE_BACKOFF_MS: doc(int(1000, 1), "first retry delay of a failed read or call back to Cloudesire, doubled each attempt"),
  CLOUDESIRE_MAX_BACKOFF_MS: doc(int(300_000, 1), "longest retry delay (retries never stop: an outage delays, never loses)"),
  CLOUDESIRE_POLL_MS: doc(int(1000, 10), "how often due reads and outbox calls are looked for (a notification starts them at once)"),
});

/** Read by the OpenStack credentials module, as the `openstack` CLI reads them (not in EnvSchema). */
const OPENSTACK_VARIABLES: Array<{ variable: string; default: string; meaning: string }> = [
  { variable: "OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME, …", default: "none", meaning: "the cloud's admin credentials, as for the `openstack` CLI" },
  { variable: "OS_CLOUD (+ OS_CLIENT_CONFIG_FILE)", default: "none", meaning: "or: a cloud of a `clouds.yaml` (searched as the CLI does)" },
];

/** The configuration reference, one row per variable, from the schema itself. */
export function configReference(): Array<{ variable: string; default: string; meaning: string }> {
  const rows = Object.entries(EnvSchema.shape).map(([variable, schema]) => {
    const meta = (schema.meta() ?? {}) as { description?: string; defaultText?: string };
    const parsed = EnvSchema.shape[variable as keyof Env].safeParse(undefined);
    const computed = parsed.success && parsed.data !== undefined ? `\`${String(parsed.data)}\`` : "none";
    return { variable, default: meta.defaultText ?? computed, meaning: meta.description ?? "" };
  });
  return [...rows, ...OPENSTACK_VARIABLES];
}

export function configReferenceMarkdown(): string {
  const esc = (s: string) => s.replaceAll("|", "\\|");
  return [
    "| variable | default | meaning |",
    "| --- | --- | --- |",
    ...configReference().map((r) => `| ${r.variable.includes("`") ? r.variable : `\`${r.variable}\``} | ${esc(r.default)} | ${esc(r.meaning)} |`),
  ].join("\n");
}
export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** This start found an earlier version's data directory (no marker) and marked it as the service's. */
  dataDirAdopted: boolean;
  databaseUrl: string | undefined;
  webhookSecret: string | undefined;
  /** Also accepted while the marketplace switches to a new WEBHOOK_SECRET. */
  webhookSecretPrevious: string | undefined;
  replayWindowSeconds: number;
  webhookRateLimit: { perSecond: number; burst: number } | undefined;
  /** Failed authentications per source before 429 (operator, customer, metrics tokens, webhook signatures). */
  authFailureLimit: { perSecond: number; burst: number };
  /** Whose X-Forwarded-For names the client. */
  trustProxy: TrustProxy;
  /** How long a client may take to send a request, and how many may be connected at once. */
  http: HttpLimits;
  operatorToken: string;
  /** The key customers' credentials tokens are derived from. */
  customerTokenKey: string;
  metricsToken: string | undefined;
  /** Where the generated operator token is kept when OPERATOR_TOKEN is not set. */
  operatorTokenFile: string | undefined;
  pulumi: {
    backendUrl: string;
    passphrase: string;
    workDir: string;
    /** PulumiEngineOptions.inlineProgram: src/program/inline.ts's URL with PULUMI_PROGRAM=inline, else null. */
    inlineProgram: string | null;
    /**
     * The engine host's environment, which every `pulumi` process and plugin inherits: what they need to
     * run (PATH, HOME, locale, proxies, CA files, PULUMI_* settings, the state backend's cloud credentials)
     * and nothing else of the service's (its webhook secrets, tokens, database URL). The passphrase and
     * the OpenStack credentials reach them through the engine's own options.
     */
    hostEnv: Record<string, string>;
    /** The PATH the `pulumi` CLI is looked up on (provisioning/readiness.ts). */
    searchPath: string;
  };
  openstack: { admin: AdminCredentials | null; credentials: CredentialResult; problem: string | null; env: Record<string, string> };
  /** Every target (TARGETS_FILE; without it, one: `default`), the default first. */
  targets: TargetConfig[];
  tenant: TenantSettings;
  metering: {
    prices: PriceList | null;
    meters: Meters;
    granularitySeconds: number;
    gnocchiUrl: string | undefined;
    gnocchiAuth: { kind: "keystone" } | { kind: "basic"; user: string };
    delivery: DeliveryTarget | null;
  };
  reconcile: {
    concurrency: number;
    /** Slots bulk (operator) jobs may use: RECONCILE_CONCURRENCY - RECONCILE_CUSTOMER_SLOTS, at least 1. */
    bulkSlots: number;
    maxAttempts: number; backoffMs: number; pollMs: number; jobTimeoutSeconds: number;
  };
  /** What a cancellation does with what the project still has (ORPHAN_POLICY, PURGE_TIMEOUT_SECONDS). */
  cancellation: { orphanPolicy: "purge" | "hold"; purgeTimeoutSeconds: number };
  /** Seconds between drift sweeps over every ready stack; 0: on demand only. */
  driftIntervalSeconds: number;
  logLevel: Env["LOG_LEVEL"];
  cloudesire: CloudesireConfig;
  /** Every secret value known to the service: the logger's redactor refuses to write them. */
  secrets: string[];
}

/** Selling on Cloudesire (marketplaces/cloudesire/settings.ts says what each setting means). */
export type CloudesireConfig = CloudesireSettings;

function cloudesireConfigOf(env: Env): CloudesireConfig {
  return {
    apiUrl: env.CLOUDESIRE_API_URL,
    token: env.CLOUDESIRE_TOKEN,
    eventSecret: env.CLOUDESIRE_EVENT_SECRET,
    eventSecretPrevious: env.CLOUDESIRE_EVENT_SECRET_PREVIOUS,
    dashboardUrl: env.CLOUDESIRE_DASHBOARD_URL,
    documentationUrl: env.CLOUDESIRE_DOCUMENTATION_URL,
    serviceUrl: env.CLOUDESIRE_SERVICE_URL,
    items: { cores: env.CLOUDESIRE_ITEM_CORES, ramGb: env.CLOUDESIRE_ITEM_RAM_GB, diskGb: env.CLOUDESIRE_ITEM_DISK_GB, floatingIps: env.CLOUDESIRE_ITEM_IP_ADDRESSES },
    paygPlans: env.CLOUDESIRE_PAYG_PLANS.split(",").filter(Boolean),
    productIds: env.CLOUDESIRE_PRODUCT_IDS.split(",").filter(Boolean),
    paygMode: env.CLOUDESIRE_PAYG_MODE,
    targetParameter: env.CLOUDESIRE_TARGET_PARAMETER,
    metricsHeader: env.CLOUDESIRE_METRICS_HEADER,
    metricsToken: env.CLOUDESIRE_METRICS_TOKEN,
    languages: env.CLOUDESIRE_LANGUAGES.split(","),
    timeoutMs: env.CLOUDESIRE_TIMEOUT_MS,
    backoffMs: env.CLOUDESIRE_BACKOFF_MS,
    maxBackoffMs: env.CLOUDESIRE_MAX_BACKOFF_MS,
    pollMs: env.CLOUDESIRE_POLL_MS,
  };
}

/** What `tenantctl cloudesire doctor` checks, with no side effects: the Cloudesire settings and the plans' limits (PLAN_MAX_*). */
export function loadCloudesireConfig(rawEnv: Record<string, string | undefined> = process.env): CloudesireConfig & { limits: PlanLimits } {
  const env = parseEnv(rawEnv);
  return { ...cloudesireConfigOf(env), limits: limitsOf(env) };
}

function limitsOf(env: Env): PlanLimits {
  return { maxCores: env.PLAN_MAX_CORES, maxRamGb: env.PLAN_MAX_RAM_GB, maxDiskGb: env.PLAN_MAX_DISK_GB, maxFloatingIps: env.PLAN_MAX_FLOATING_IPS };
}

/** What keeps Cloudesire selling from working, one line each (healthz, start, doctor). */
export function missingForCloudesire(c: CloudesireConfig): string[] {
  if (!c.apiUrl && !c.token && !c.eventSecret) return []; // not selling on Cloudesire
  const missing: string[] = [];
  if (!c.eventSecret) missing.push("CLOUDESIRE_EVENT_SECRET is not set: Cloudesire notifications are refused until it is");
  if (!c.apiUrl) missing.push("CLOUDESIRE_API_URL is not set: Cloudesire subscriptions cannot be read");
  if (!c.token) missing.push("CLOUDESIRE_TOKEN is not set: Cloudesire's API cannot be called");
  if (c.productIds.length === 0) missing.push("CLOUDESIRE_PRODUCT_IDS is not set: no Cloudesire subscription is taken as ours (each is ignored and counted) until the products sold here are named");
  if (!c.dashboardUrl) missing.push("CLOUDESIRE_DASHBOARD_URL is not set: the customer's APP endpoint is the tenant's identity (Keystone) URL, and none when it is not HTTPS");
  return missing;
}

export class ConfigError extends Error {}

/** The currencies of Cloudesire's custom invoices (docs/billing.md, "Custom billing"). */
const CLOUDESIRE_CURRENCIES = ["EUR", "USD"];

/** The repository root: Pulumi.yaml lives here, and the service runs the program from here. */
export const REPO_ROOT = resolve(new URL("..", import.meta.url).pathname);

/** What the engine host and its `pulumi` processes may see of the service's environment (Config.pulumi.hostEnv). */
const ENGINE_ENV = /^(?:PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|XDG_[A-Z_]+|(?:HTTPS?|NO|ALL)_PROXY|(?:https?|no|all)_proxy|SSL_CERT_(?:FILE|DIR)|NODE_EXTRA_CA_CERTS|NODE_OPTIONS|PULUMI_(?!CONFIG_PASSPHRASE\b|ACCESS_TOKEN\b)[A-Z_]+|PULUMI_ACCESS_TOKEN|AWS_[A-Z_]+|AZURE_[A-Z_]+|GOOGLE_[A-Z_]+|CLOUDSDK_[A-Z_]+)$/;

export function engineHostEnvOf(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => ENGINE_ENV.test(e[0]) && typeof e[1] === "string"));
}

/**
 * Reads the environment once, validates it, fills in embedded defaults (a data directory, a file://
 * Pulumi backend under it, a generated passphrase and operator token kept in it) and returns one frozen
 * object. Nothing else reads process.env.
 */
export function loadConfig(rawEnv: Record<string, string | undefined> = process.env): Readonly<Config> {
  const env = parseEnv(rawEnv);
  // Before anything is written: what this process (and the pulumi CLI it runs) creates is the owner's alone.
  restrictNewFilesToOwner();
  const dataDir = resolve(env.DATA_DIR);
  const claim = claimDataDir(dataDir);
  if (!claim.ok) throw new ConfigError(claim.reason);

  // The secret files are checked as found (a loose mode is reported, not quietly fixed), then the rest is closed.
  const passphrase = env.PULUMI_CONFIG_PASSPHRASE ?? generatedSecret(resolve(dataDir, DATA_DIR_ENTRIES.passphrase), 1);
  const operatorTokenFile = env.OPERATOR_TOKEN ? undefined : resolve(dataDir, DATA_DIR_ENTRIES.operatorToken);
  const operatorToken = env.OPERATOR_TOKEN ?? generatedSecret(operatorTokenFile as string, 16);
  const customerTokenKey = env.CUSTOMER_TOKEN_KEY ?? generatedSecret(resolve(dataDir, DATA_DIR_ENTRIES.customerTokenKey), 32);
  closeOwnEntries(dataDir);
  const backendUrl = env.PULUMI_BACKEND_URL ?? pathToFileURL(ensurePrivateDir(resolve(dataDir, DATA_DIR_ENTRIES.backend))).href;

  const admin = readAdminCredentials(rawEnv);
  const creds = admin.ok ? admin.credentials : null;
  const targets = targetsOf(env, rawEnv, admin);
  const prices = env.PRICES_FILE ? readJsonFile(env.PRICES_FILE, "PRICES_FILE", PriceList) : null;
  const cloudesire = cloudesireConfigOf(env);
  // Cloudesire takes a vendor's invoice lines in EUR or USD only (docs/billing.md, "Custom billing"): a
  // price list in another currency would be refused at every month's push, so it stops the start.
  if (prices && (cloudesire.apiUrl || cloudesire.token) && !CLOUDESIRE_CURRENCIES.includes(prices.currency)) {
    throw new ConfigError(`PRICES_FILE is in ${prices.currency}: Cloudesire takes invoices in ${CLOUDESIRE_CURRENCIES.join(" or ")} only`);
  }

  return Object.freeze({
    port: env.PORT,
    host: env.HOST,
    dataDir,
    dataDirAdopted: claim.found === "adopted",
    databaseUrl: env.DATABASE_URL,
    webhookSecret: env.WEBHOOK_SECRET,
    webhookSecretPrevious: env.WEBHOOK_SECRET_PREVIOUS,
    replayWindowSeconds: env.WEBHOOK_REPLAY_WINDOW_SECONDS,
    webhookRateLimit: env.WEBHOOK_RATE_PER_SECOND > 0 ? { perSecond: env.WEBHOOK_RATE_PER_SECOND, burst: env.WEBHOOK_RATE_BURST } : undefined,
    authFailureLimit: { perSecond: env.AUTH_FAILURES_PER_MINUTE / 60, burst: env.AUTH_FAILURE_BURST },
    trustProxy: trustProxyOf(env.TRUST_PROXY),
    // Node refuses a headers timeout longer than the request's: the request's bounds both.
    http: { headersTimeoutMs: Math.min(env.HTTP_HEADERS_TIMEOUT_SECONDS, env.HTTP_REQUEST_TIMEOUT_SECONDS) * 1000, requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_SECONDS * 1000, maxConnections: env.HTTP_MAX_CONNECTIONS,
      maxConnectionsPerSource: Math.min(env.HTTP_MAX_CONNECTIONS_PER_SOURCE, env.HTTP_MAX_CONNECTIONS) },
    operatorToken,
    operatorTokenFile,
    customerTokenKey,
    metricsToken: env.METRICS_TOKEN,
    pulumi: {
      backendUrl, passphrase, workDir: pulumiWorkDirOf(env.PULUMI_WORK_DIR),
      inlineProgram: env.PULUMI_PROGRAM === "inline" ? pathToFileURL(resolve(REPO_ROOT, "src/program/inline.ts")).href : null,
      hostEnv: engineHostEnvOf(rawEnv),
      searchPath: rawEnv.PATH ?? "",
    },
    openstack: { admin: creds, credentials: admin, problem: admin.ok ? null : admin.problem, env: openstackEnvOf(rawEnv) },
    targets: targets.targets,
    tenant: targets.tenant,
    metering: {
      prices,
      meters: env.METERS_FILE ? readJsonFile(env.METERS_FILE, "METERS_FILE", Meters) : DEFAULT_METERS,
      granularitySeconds: env.BILLING_GRANULARITY_SECONDS,
      gnocchiUrl: env.GNOCCHI_URL,
      delivery: env.BILLING_WEBHOOK_URL
        // 12 attempts, 2 s doubling up to 15 min: about 50 minutes of a receiver down, restarts included.
        ? { url: env.BILLING_WEBHOOK_URL, secret: billingSecretOf(env), attempts: 12, backoffMs: 2000, maxBackoffMs: 15 * 60_000 }
        : null,
      gnocchiAuth: env.GNOCCHI_AUTH_MODE === "basic" ? { kind: "basic" as const, user: env.GNOCCHI_BASIC_USER } : { kind: "keystone" as const },
    },
    reconcile: {
      concurrency: env.RECONCILE_CONCURRENCY, bulkSlots: Math.max(1, env.RECONCILE_CONCURRENCY - env.RECONCILE_CUSTOMER_SLOTS), maxAttempts: env.RECONCILE_MAX_ATTEMPTS,
      backoffMs: env.RECONCILE_BACKOFF_MS, pollMs: env.RECONCILE_POLL_MS, jobTimeoutSeconds: env.RECONCILE_JOB_TIMEOUT_SECONDS,
    },
    driftIntervalSeconds: env.DRIFT_INTERVAL_SECONDS,
    cancellation: { orphanPolicy: env.ORPHAN_POLICY, purgeTimeoutSeconds: env.PURGE_TIMEOUT_SECONDS },
    logLevel: env.LOG_LEVEL,
    cloudesire,
    secrets: [
      env.CLOUDESIRE_TOKEN, env.CLOUDESIRE_EVENT_SECRET, env.CLOUDESIRE_EVENT_SECRET_PREVIOUS, env.CLOUDESIRE_METRICS_TOKEN,
      env.WEBHOOK_SECRET, env.WEBHOOK_SECRET_PREVIOUS, env.BILLING_WEBHOOK_SECRET, operatorToken, customerTokenKey, env.METRICS_TOKEN, passphrase,
      creds?.password, rawEnv.OS_PASSWORD, env.DATABASE_URL ? passwordOfUrl(env.DATABASE_URL) : undefined,
      ...targets.targets.map((t) => (t.credentials.ok ? t.credentials.credentials.password : undefined)),
    ]
      .filter((s): s is string => typeof s === "string" && s.length > 0),
  });
}

function parseEnv(rawEnv: Record<string, string | undefined>): Env {
  const parsed = EnvSchema.safeParse(rawEnv);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const env = parsed.data;
  if (env.WEBHOOK_SECRET_PREVIOUS && !env.WEBHOOK_SECRET) throw new ConfigError("WEBHOOK_SECRET_PREVIOUS needs WEBHOOK_SECRET: it is the secret being replaced by it");
  if (env.WEBHOOK_SECRET_PREVIOUS && env.WEBHOOK_SECRET_PREVIOUS === env.WEBHOOK_SECRET) throw new ConfigError("WEBHOOK_SECRET_PREVIOUS must differ from WEBHOOK_SECRET");
  return env;
}

/** Whose X-Forwarded-For is believed: nobody's, the nearest N proxies', or those at these addresses. */
export type TrustProxy = { kind: "off" } | { kind: "hops"; hops: number } | { kind: "addresses"; addresses: string[] };

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  /** Of those, from one source address (an IPv6 /64); never more than `maxConnections`. */
  maxConnectionsPerSource: number;
}

/**
 * What to warn about at start: a number of trusted proxies believes `X-Forwarded-For` from any peer, so
 * when the service also listens where clients can reach it directly (a wildcard or public address), a
 * client chooses the address it is counted under (its own rate limit, its own auth-failure budget).
 */
export function trustProxyWarning(trust: TrustProxy, host: string): string | null {
  if (trust.kind !== "hops") return null;
  const loopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  if (loopback) return null;
  return `TRUST_PROXY=${trust.hops} believes X-Forwarded-For from any peer, and HOST=${host} may be reachable without the proxies: a client connecting directly picks the address its rate limits and auth-failure budget count. Bind HOST to the address only the proxies reach, or set TRUST_PROXY to the proxies' addresses`;
}

function trustProxyOf(value: string | undefined): TrustProxy {
  const v = value?.trim() ?? "";
  if (v === "" || v === "0" || v === "off" || v === "false") return { kind: "off" };
  if (/^\d+$/.test(v)) return { kind: "hops", hops: Number(v) };
  const addresses = v.split(",").map((a) => a.trim()).filter((a) => a !== "");
  for (const a of addresses) {
    const [ip, bits, extra] = a.split("/");
    const family = isIP(ip ?? "");
    const prefix = bits === undefined ? 0 : Number(bits);
    if (family === 0 || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)))) {
      throw new ConfigError(`TRUST_PROXY: '${a}' is neither a number of proxies nor an IP address or CIDR`);
    }
  }
  return { kind: "addresses", addresses };
}

function tenantSettingsOf(env: Env, creds: AdminCredentials | null): TenantSettings {
  return {
    domainId: env.TENANT_DOMAIN_ID,
    memberRole: env.TENANT_MEMBER_ROLE,
    region: env.TENANT_REGION ?? creds?.regionName ?? "RegionOne",
    // What customers are told to authenticate against; the admin URL unless the operator says otherwise.
    authUrl: env.TENANT_AUTH_URL ?? creds?.authUrl ?? "http://127.0.0.1:5000/v3",
    limits: limitsOf(env),
    quotaDefaults: env.QUOTA_DEFAULTS_FILE ? readJsonFile(env.QUOTA_DEFAULTS_FILE, "QUOTA_DEFAULTS_FILE", QuotaDefaults) : DEFAULT_QUOTA_DEFAULTS,
  };
}

/** The targets and the tenant settings that name them (TARGETS_FILE completed from the default configuration). */
function targetsOf(env: Env, rawEnv: Record<string, string | undefined>, admin: CredentialResult): { targets: TargetConfig[]; tenant: TenantSettings } {
  const base = tenantSettingsOf(env, admin.ok ? admin.credentials : null);
  let read: ReturnType<typeof readTargets>;
  try {
    read = readTargets(env.TARGETS_FILE, rawEnv, {
      credentials: admin, memberRole: base.memberRole, region: base.region, authUrl: base.authUrl, gnocchiUrl: env.GNOCCHI_URL, dashboardUrl: env.CLOUDESIRE_DASHBOARD_URL,
    });
  } catch (e) {
    if (e instanceof TargetsFileError) throw new ConfigError(e.message);
    throw e;
  }
  const ordered = [...read.targets].sort((a, b) => Number(b.placement.name === read.defaultTarget) - Number(a.placement.name === read.defaultTarget));
  const own = ordered[0]?.placement;
  return {
    targets: ordered,
    tenant: {
      ...base,
      // The default target's placement is the settings' own: what every stack declared before targets.
      ...(own ? { memberRole: own.memberRole, region: own.region, authUrl: own.authUrl } : {}),
      defaultTarget: read.defaultTarget,
      targets: Object.fromEntries(ordered.map((t) => [t.placement.name, t.placement])),
    },
  };
}

/** Tenant settings only, with no side effects (no data directory, no generated secrets): `tenantctl render`. */
export function loadTenantSettings(rawEnv: Record<string, string | undefined> = process.env): TenantSettings {
  return targetsOf(parseEnv(rawEnv), rawEnv, readAdminCredentials(rawEnv)).tenant;
}

/** What `tenantctl doctor` checks, with no side effects. */
export function loadDoctorConfig(rawEnv: Record<string, string | undefined> = process.env): { credentials: CredentialResult; memberRole: string } {
  return { credentials: readAdminCredentials(rawEnv), memberRole: parseEnv(rawEnv).TENANT_MEMBER_ROLE };
}

/** What the operator CLI needs to reach a running service; reads, never creates, the token file. */
export function loadCliConfig(rawEnv: Record<string, string | undefined> = process.env): {
  url: string; token: string | undefined; dataDir: string; backendUrl: string; workDir: string;
  /** The generated passphrase's file; undefined when the passphrase comes from PULUMI_CONFIG_PASSPHRASE. */
  passphraseFile: string | undefined;
} {
  const env = parseEnv(rawEnv);
  const dataDir = resolve(env.DATA_DIR);
  const tokenFile = resolve(dataDir, DATA_DIR_ENTRIES.operatorToken);
  return {
    url: env.TENANTCTL_URL ?? `http://127.0.0.1:${env.PORT}`,
    token: env.OPERATOR_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined),
    dataDir,
    passphraseFile: env.PULUMI_CONFIG_PASSPHRASE ? undefined : resolve(dataDir, DATA_DIR_ENTRIES.passphrase),
    backendUrl: env.PULUMI_BACKEND_URL ?? pathToFileURL(resolve(dataDir, DATA_DIR_ENTRIES.backend)).href,
    workDir: resolve(env.PULUMI_WORK_DIR ?? REPO_ROOT),
  };
}

/** PULUMI_WORK_DIR, or the repository root: a Pulumi project (its Pulumi.yaml names the project and stacks/). */
function pulumiWorkDirOf(dir: string | undefined): string {
  const workDir = resolve(dir ?? REPO_ROOT);
  if (!existsSync(resolve(workDir, "Pulumi.yaml"))) throw new ConfigError(`PULUMI_WORK_DIR ${workDir} holds no Pulumi.yaml: copy the repository's there, or leave PULUMI_WORK_DIR unset`);
  return workDir;
}

/** What keeps the service from provisioning, one line each: shown at start and in /healthz. */
export function missingForProvisioning(config: Config): string[] {
  const missing: string[] = [];
  if (!config.webhookSecret) missing.push("WEBHOOK_SECRET is not set: webhooks are refused until it is");
  if (config.openstack.problem) missing.push(config.openstack.problem);
  return missing;
}

/** A JSON file named by an environment variable, validated; any problem stops the start with its reason. */
function readJsonFile<T>(path: string, variable: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`${variable} ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${variable} ${path}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}

/**
 * The billing receiver gets a key of its own: one that also authorised marketplace events would let it
 * forge them (a forged cancellation purges a tenant's servers).
 */
function billingSecretOf(env: Env): string {
  const secret = env.BILLING_WEBHOOK_SECRET;
  if (!secret) throw new ConfigError("BILLING_WEBHOOK_URL needs BILLING_WEBHOOK_SECRET: deliveries are signed with it");
  if (secret === env.WEBHOOK_SECRET || secret === env.WEBHOOK_SECRET_PREVIOUS) {
    throw new ConfigError("BILLING_WEBHOOK_SECRET must differ from WEBHOOK_SECRET: the billing receiver must not hold the key of marketplace events");
  }
  return secret;
}

/**
 * A random secret created once and kept (mode 600) in the data directory, so restarts reuse it. One
 * found there must be the service user's alone and long enough: anything else stops the start (a token
 * others could read may have been read; an empty one would lock operators out).
 */
function generatedSecret(path: string, minLength: number): string {
  if (!existsSync(path)) {
    const value = randomBytes(32).toString("base64url");
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
    return value;
  }
  const st = statSync(path);
  if (!st.isFile()) throw new ConfigError(`${path} is not a regular file`);
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) throw new ConfigError(`${path} belongs to uid ${st.uid}, not to the service's user (${process.getuid()})`);
  if ((st.mode & 0o077) !== 0) throw new ConfigError(`${path} is readable or writable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it, and replace it if others may have read it`);
  const value = readFileSync(path, "utf8").trim();
  if (value === "") throw new ConfigError(`${path} is empty`);
  if (value.length < minLength) throw new ConfigError(`${path} holds ${value.length} characters: it needs at least ${minLength}`);
  return value;
}

function passwordOfUrl(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
