/**
 * Metering benchmark against the real Gnocchi of scripts/testcloud.sh:
 *   seeds PROJECTS projects × one 30-day month of hourly measures for the four billed resources, then
 *   prints the Gnocchi requests of a billing run, its wall time, the time of the bare aggregate queries
 *   (same requests, no parsing or rating) measured in the same run, and what a per-project-per-hour
 *   approach would need. Prints figures; asserts nothing.
 *   Usage: npx tsx bench/metering.ts [projects=1000]
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { AdminCredentials } from "../src/openstack/credentials.js";
import { BilledResource, DEFAULT_METERS, type BillableSubscription, type PriceList } from "../src/domain/billing.js";
import { computeBilling } from "../src/metering/billing-run.js";
import { GnocchiClient } from "../src/metering/gnocchi-client.js";
import { periodOf } from "../src/metering/period.js";

const PROJECTS = Number(process.argv[2] ?? 1000);
const PERIOD = periodOf("2026-09"); // 30 days = 720 hourly points per metric
const PRICES: PriceList = {
  version: "bench", currency: "EUR", decimals: 2, rounding: "half-even",
  resources: {
    cores: { unitPrice: "0.0125", freeUnitHours: "0" }, ramGb: { unitPrice: "0.004", freeUnitHours: "0" },
    diskGb: { unitPrice: "0.00015", freeUnitHours: "0" }, floatingIps: { unitPrice: "0.005", freeUnitHours: "0" },
  },
};

const envFile = execFileSync("bash", ["scripts/testcloud.sh", "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() ?? "";
const env = Object.fromEntries(readFileSync(envFile, "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
const creds = AdminCredentials.parse({
  authUrl: env.OS_AUTH_URL, username: env.OS_USERNAME, password: env.OS_PASSWORD, projectName: env.OS_PROJECT_NAME,
  userDomainId: env.OS_USER_DOMAIN_ID, projectDomainId: env.OS_PROJECT_DOMAIN_ID, source: "test cloud",
});
const client = () => new GnocchiClient({ url: env.GNOCCHI_URL, auth: { kind: "keystone", credentials: creds } });
const admin = client();
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function seed(prefix: string): Promise<string[]> {
  const policy = "bench-hourly";
  await admin.request("POST", "/v1/archive_policy", { name: policy, back_window: 0, definition: [{ granularity: "1h", timespan: "800 days" }], aggregation_methods: ["mean", "max", "last", "sum"] }).catch(() => null);
  for (const t of ["instance", "volume", "network"]) await admin.request("POST", "/v1/resource_type", { name: t, attributes: {} }).catch(() => null);
  const hours = Array.from({ length: 720 }, (_, i) => new Date(PERIOD.startMs + i * 3_600_000).toISOString());
  const projects = Array.from({ length: PROJECTS }, (_, i) => `${prefix}-${i}`);
  const CHUNK = 25;
  for (let i = 0; i < projects.length; i += CHUNK) {
    const batch: Record<string, Record<string, Array<{ timestamp: string; value: number }>>> = {};
    await Promise.all(projects.slice(i, i + CHUNK).map(async (p, j) => {
      const res = async (type: string, metrics: string[]) => {
        const id = randomUUID();
        await admin.request("POST", `/v1/resource/${type}`, { id, project_id: p, metrics: Object.fromEntries(metrics.map((m) => [m, { archive_policy_name: policy }])) });
        return id;
      };
      const cores = 1 + ((i + j) % 8);
      batch[await res("instance", ["vcpus", "memory"])] = {
        vcpus: hours.map((timestamp) => ({ timestamp, value: cores })),
        memory: hours.map((timestamp) => ({ timestamp, value: cores * 2048 })),
      };
      batch[await res("volume", ["volume.size"])] = { "volume.size": hours.map((timestamp) => ({ timestamp, value: 20 * cores })) };
      batch[await res("network", ["ip.floating"])] = { "ip.floating": hours.map((timestamp) => ({ timestamp, value: 1 })) };
    }));
    await admin.request("POST", "/v1/batch/resources/metrics/measures", batch);
  }
  return projects;
}

async function waitProcessed(): Promise<void> {
  for (;;) {
    const s = (await admin.request("GET", "/v1/status")) as { storage: { summary: { measures: number } } };
    if (s.storage.summary.measures === 0) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function bareQueries(): Promise<number> {
  const g = client();
  await g.request("GET", "/v1/status"); // authenticate outside the timed part, as the billing run's client does below
  const t0 = process.hrtime.bigint();
  for (const r of BilledResource.options) {
    const m = DEFAULT_METERS[r];
    const q = new URLSearchParams({ groupby: "project_id", start: new Date(PERIOD.startMs).toISOString(), stop: new Date(PERIOD.stopMs).toISOString(), granularity: "3600", needed_overlap: "0", fill: "0" });
    await g.request("POST", `/v1/aggregates?${q}`, { resource_type: m.resourceType, search: "project_id!=null", operations: `(aggregate sum (metric ${m.metric} ${m.aggregation}))` });
  }
  return ms(t0);
}

async function billingRun(subs: BillableSubscription[]): Promise<{ ms: number; requests: number; total: string }> {
  const g = client();
  await g.request("GET", "/v1/status");
  const before = g.requests;
  const t0 = process.hrtime.bigint();
  const c = await computeBilling({ period: PERIOD, subscriptions: subs, gnocchi: g, meters: DEFAULT_METERS, prices: PRICES, granularitySeconds: 3600 });
  const took = ms(t0);
  return { ms: took, requests: g.requests - before, total: c.invoices.reduce((s, i) => s + Number(i.total), 0).toFixed(2) };
}

const prefix = `bench${Date.now().toString(36)}`;
let t0 = process.hrtime.bigint();
const projects = await seed(prefix);
const seedMs = ms(t0);
t0 = process.hrtime.bigint();
await waitProcessed();
const processMs = ms(t0);
const subs: BillableSubscription[] = projects.map((p, i) => ({
  id: `b${i}`, projectId: p,
  events: [{ id: `e${i}`, type: "subscription.created", occurredAt: "2026-08-01T00:00:00Z", subscription: { id: `b${i}`, customer: { id: "c", name: "n", email: "a@b.co" }, plan: { model: "payg" } } }],
}));

const bare: number[] = [];
const runs: Array<{ ms: number; requests: number; total: string }> = [];
for (let i = 0; i < 3; i++) {
  bare.push(await bareQueries());
  runs.push(await billingRun(subs));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const runMs = median(runs.map((r) => r.ms));
const bareMs = median(bare);
console.log(`projects: ${PROJECTS}; measures seeded: ${PROJECTS * 4 * 720} (${(seedMs / 1000).toFixed(1)} s to post, ${(processMs / 1000).toFixed(1)} s for metricd)`);
console.log(`gnocchi requests per billing run: ${runs[0]?.requests} (per-project-per-hour approach: ${PROJECTS * 720 * 4})`);
console.log(`billing run wall time (median of 3): ${runMs.toFixed(0)} ms; bare aggregate queries: ${bareMs.toFixed(0)} ms; overhead ratio ${(runMs / bareMs).toFixed(2)}x`);
console.log(`all runs: ${runs.map((r) => `${r.ms.toFixed(0)}ms`).join(", ")}; bare: ${bare.map((b) => `${b.toFixed(0)}ms`).join(", ")}; sum of invoices ${runs[0]?.total} EUR`);
