import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { PlanLimits } from "./domain/plan.js";
import { DEFAULT_QUOTA_DEFAULTS, QuotaDefaults } from "./domain/quota.js";
import { DEFAULT_METERS, Meters } from "./metering/meters.js";
import { PriceList } from "./metering/prices.js";
import type { DeliveryTarget } from "./metering/billing-delivery.js";
import { openstackEnvOf, readAdminCredentials, type AdminCredentials, type CredentialResult } from "./openstack/credentials.js";

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

/** Every environment variable the service reads, with its default: the README's reference table. */
export const EnvSchema = z.object({
  PORT: int(8080, 0).pipe(z.number().max(65535)),
  HOST: z.string().default("0.0.0.0"),
  DATA_DIR: z.string().default("./data"),
  WEBHOOK_SECRET: z.string().min(16, "WEBHOOK_SECRET must be at least 16 characters").optional(),
  WEBHOOK_REPLAY_WINDOW_SECONDS: int(300, 1),
  OPERATOR_TOKEN: z.string().min(16, "OPERATOR_TOKEN must be at least 16 characters").optional(),
  DATABASE_URL: z.string().url().optional(),
  PULUMI_BACKEND_URL: z.string().min(1).optional(),
  PULUMI_CONFIG_PASSPHRASE: z.string().min(1).optional(),
  TENANT_DOMAIN_ID: z.string().min(1).default("default"),
  TENANT_MEMBER_ROLE: z.string().min(1).default("member"),
  TENANT_REGION: z.string().min(1).optional(),
  TENANT_AUTH_URL: z.string().url().optional(),
  PLAN_MAX_CORES: int(64, 1),
  PLAN_MAX_RAM_GB: int(256, 1),
  PLAN_MAX_DISK_GB: int(2000, 1),
  PLAN_MAX_FLOATING_IPS: int(16, 0),
  QUOTA_DEFAULTS_FILE: z.string().optional(),
  RECONCILE_CONCURRENCY: int(4, 1),
  RECONCILE_MAX_ATTEMPTS: int(5, 1),
  RECONCILE_BACKOFF_MS: int(2000, 0),
  RECONCILE_POLL_MS: int(10000, 50),
  DRIFT_INTERVAL_SECONDS: int(3600, 0),
  PRICES_FILE: z.string().optional(),
  METERS_FILE: z.string().optional(),
  GNOCCHI_URL: z.string().url().optional(),
  GNOCCHI_AUTH_MODE: z.enum(["keystone", "basic"]).default("keystone"),
  GNOCCHI_BASIC_USER: z.string().min(1).default("admin"),
  BILLING_GRANULARITY_SECONDS: int(3600, 1),
  BILLING_WEBHOOK_URL: z.string().url().optional(),
  /** tenantctl only: the service to talk to (default http://127.0.0.1:$PORT). */
  TENANTCTL_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});
export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  webhookSecret: string | undefined;
  replayWindowSeconds: number;
  operatorToken: string;
  /** Where the generated operator token is kept when OPERATOR_TOKEN is not set. */
  operatorTokenFile: string | undefined;
  pulumi: { backendUrl: string; passphrase: string; workDir: string };
  openstack: { admin: AdminCredentials | null; credentials: CredentialResult; problem: string | null; env: Record<string, string> };
  tenant: {
    domainId: string; memberRole: string; region: string; authUrl: string;
    limits: PlanLimits; quotaDefaults: QuotaDefaults;
  };
  metering: {
    prices: PriceList | null;
    meters: Meters;
    granularitySeconds: number;
    gnocchiUrl: string | undefined;
    gnocchiAuth: { kind: "keystone" } | { kind: "basic"; user: string };
    delivery: DeliveryTarget | null;
  };
  reconcile: { concurrency: number; maxAttempts: number; backoffMs: number; pollMs: number };
  /** Seconds between drift sweeps over every ready stack; 0: on demand only. */
  driftIntervalSeconds: number;
  logLevel: Env["LOG_LEVEL"];
  /** Every secret value known to the service: the logger's redactor refuses to write them. */
  secrets: string[];
}

export class ConfigError extends Error {}

/** The repository root: Pulumi.yaml lives here, and the service runs the program from here. */
export const REPO_ROOT = resolve(new URL("..", import.meta.url).pathname);

/**
 * Reads the environment once, validates it, fills in embedded defaults (a data directory, a file://
 * Pulumi backend under it, a generated passphrase and operator token kept in it) and returns one frozen
 * object. Nothing else reads process.env.
 */
export function loadConfig(rawEnv: Record<string, string | undefined> = process.env): Readonly<Config> {
  const env = parseEnv(rawEnv);
  const dataDir = resolve(env.DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const passphrase = env.PULUMI_CONFIG_PASSPHRASE ?? generatedSecret(resolve(dataDir, "pulumi-passphrase"));
  const operatorTokenFile = env.OPERATOR_TOKEN ? undefined : resolve(dataDir, "operator-token");
  const operatorToken = env.OPERATOR_TOKEN ?? generatedSecret(operatorTokenFile as string);
  const backendUrl = env.PULUMI_BACKEND_URL ?? pathToFileURL(ensureDir(resolve(dataDir, "pulumi"))).href;

  const admin = readAdminCredentials(rawEnv);
  const creds = admin.ok ? admin.credentials : null;

  return Object.freeze({
    port: env.PORT,
    host: env.HOST,
    dataDir,
    databaseUrl: env.DATABASE_URL,
    webhookSecret: env.WEBHOOK_SECRET,
    replayWindowSeconds: env.WEBHOOK_REPLAY_WINDOW_SECONDS,
    operatorToken,
    operatorTokenFile,
    pulumi: { backendUrl, passphrase, workDir: REPO_ROOT },
    openstack: { admin: creds, credentials: admin, problem: admin.ok ? null : admin.problem, env: openstackEnvOf(rawEnv) },
    tenant: tenantSettingsOf(env, creds),
    metering: {
      prices: env.PRICES_FILE ? readJsonFile(env.PRICES_FILE, "PRICES_FILE", PriceList) : null,
      meters: env.METERS_FILE ? readJsonFile(env.METERS_FILE, "METERS_FILE", Meters) : DEFAULT_METERS,
      granularitySeconds: env.BILLING_GRANULARITY_SECONDS,
      gnocchiUrl: env.GNOCCHI_URL,
      delivery: env.BILLING_WEBHOOK_URL
        ? { url: env.BILLING_WEBHOOK_URL, secret: requireSecretFor(env.WEBHOOK_SECRET, "BILLING_WEBHOOK_URL"), attempts: 5, backoffMs: 1000 }
        : null,
      gnocchiAuth: env.GNOCCHI_AUTH_MODE === "basic" ? { kind: "basic" as const, user: env.GNOCCHI_BASIC_USER } : { kind: "keystone" as const },
    },
    reconcile: {
      concurrency: env.RECONCILE_CONCURRENCY, maxAttempts: env.RECONCILE_MAX_ATTEMPTS,
      backoffMs: env.RECONCILE_BACKOFF_MS, pollMs: env.RECONCILE_POLL_MS,
    },
    driftIntervalSeconds: env.DRIFT_INTERVAL_SECONDS,
    logLevel: env.LOG_LEVEL,
    secrets: [env.WEBHOOK_SECRET, operatorToken, passphrase, creds?.password, rawEnv.OS_PASSWORD, env.DATABASE_URL ? passwordOfUrl(env.DATABASE_URL) : undefined]
      .filter((s): s is string => typeof s === "string" && s.length > 0),
  });
}

function parseEnv(rawEnv: Record<string, string | undefined>): Env {
  const parsed = EnvSchema.safeParse(rawEnv);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}

function tenantSettingsOf(env: Env, creds: AdminCredentials | null): Config["tenant"] {
  return {
    domainId: env.TENANT_DOMAIN_ID,
    memberRole: env.TENANT_MEMBER_ROLE,
    region: env.TENANT_REGION ?? creds?.regionName ?? "RegionOne",
    // What customers are told to authenticate against; the admin URL unless the operator says otherwise.
    authUrl: env.TENANT_AUTH_URL ?? creds?.authUrl ?? "http://127.0.0.1:5000/v3",
    limits: {
      maxCores: env.PLAN_MAX_CORES, maxRamGb: env.PLAN_MAX_RAM_GB,
      maxDiskGb: env.PLAN_MAX_DISK_GB, maxFloatingIps: env.PLAN_MAX_FLOATING_IPS,
    },
    quotaDefaults: env.QUOTA_DEFAULTS_FILE ? readJsonFile(env.QUOTA_DEFAULTS_FILE, "QUOTA_DEFAULTS_FILE", QuotaDefaults) : DEFAULT_QUOTA_DEFAULTS,
  };
}

/** Tenant settings only, with no side effects (no data directory, no generated secrets): `tenantctl render`. */
export function loadTenantSettings(rawEnv: Record<string, string | undefined> = process.env): Config["tenant"] {
  const admin = readAdminCredentials(rawEnv);
  return tenantSettingsOf(parseEnv(rawEnv), admin.ok ? admin.credentials : null);
}

/** What `tenantctl doctor` checks, with no side effects. */
export function loadDoctorConfig(rawEnv: Record<string, string | undefined> = process.env): { credentials: CredentialResult; memberRole: string } {
  return { credentials: readAdminCredentials(rawEnv), memberRole: parseEnv(rawEnv).TENANT_MEMBER_ROLE };
}

/** What the operator CLI needs to reach a running service; reads, never creates, the token file. */
export function loadCliConfig(rawEnv: Record<string, string | undefined> = process.env): {
  url: string; token: string | undefined; dataDir: string; passphraseFile: string; backendUrl: string;
} {
  const env = parseEnv(rawEnv);
  const dataDir = resolve(env.DATA_DIR);
  const tokenFile = resolve(dataDir, "operator-token");
  return {
    url: env.TENANTCTL_URL ?? `http://127.0.0.1:${env.PORT}`,
    token: env.OPERATOR_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined),
    dataDir,
    passphraseFile: resolve(dataDir, "pulumi-passphrase"),
    backendUrl: env.PULUMI_BACKEND_URL ?? pathToFileURL(resolve(dataDir, "pulumi")).href,
  };
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

function requireSecretFor(secret: string | undefined, variable: string): string {
  if (!secret) throw new ConfigError(`${variable} needs WEBHOOK_SECRET: deliveries are signed with it`);
  return secret;
}

/** A random secret created once and kept (mode 600) in the data directory, so restarts reuse it. */
function generatedSecret(path: string): string {
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const value = randomBytes(32).toString("base64url");
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
  return value;
}

function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return path;
}

function passwordOfUrl(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
