/**
 * Webhook load on loopback with autocannon, bounded, the service and a bare Hono handler each in a
 * process of its own, measured in the same run. Prints: throughput and p99 of durable 202s next to the
 * bare handler and to the service's HTTP path with nothing stored (as fast as they go, 10 connections), p99 at a fixed 1,000 req/s, and the service's
 * memory (from its own /metrics) before and after 1,000 stack operations. Prints figures; asserts nothing.
 *   Usage: npx tsx bench/load.ts [seconds=10]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import { signWebhook } from "../src/domain/webhook-signature.js";

const SECONDS = Number(process.argv[2] ?? 10);
const SECRET = "bench-webhook-secret-0123456789";
const TOKEN = "bench-operator-token-0123456789";

async function child(script: string, env: Record<string, string>): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ["--import", "tsx", script], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve) => createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once("line", (l) => resolve((JSON.parse(l) as { url: string }).url)));
  return { proc, url };
}

let seq = 0;
/** A new, signed event per request: every 202 is a real intake (stored, folded, job queued). */
function nextEvent(subscriptions: number): { body: string; headers: Record<string, string> } {
  const i = seq++;
  const sub = `s${i % subscriptions}`;
  const body = JSON.stringify({
    id: `evt-${i}`, type: i < subscriptions ? "subscription.created" : "subscription.modified",
    occurredAt: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    subscription: { id: sub, customer: { id: "c-1", name: "Bench", email: "b@example.com" }, plan: { model: "prepaid", cores: 1 + (i % 8), ramGb: 2, diskGb: 20, floatingIps: 1 } },
  });
  const ts = String(Math.floor(Date.now() / 1000));
  return { body, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(SECRET, ts, body) } };
}

function run(url: string, o: { connections: number; seconds: number; rate?: number; subscriptions: number }): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/v1/events`,
    method: "POST",
    connections: o.connections,
    duration: o.seconds,
    ...(o.rate ? { overallRate: o.rate } : {}),
    requests: [{ method: "POST", setupRequest: (req) => ({ ...req, ...nextEvent(o.subscriptions) }) }],
  });
}

/** One metric's value from the service's /metrics (0 when absent). */
async function metrics(url: string): Promise<(name: string) => number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return (name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
}

async function memory(url: string): Promise<{ rss: number; heap: number }> {
  const m = await metrics(url);
  return { rss: m("tenants_process_resident_memory_bytes") / 2 ** 20, heap: m("tenants_nodejs_heap_size_used_bytes") / 2 ** 20 };
}

/** Intake transactions and the events they took, so far (from /metrics). */
async function batches(url: string): Promise<{ count: number; sum: number }> {
  const m = await metrics(url);
  return { count: m("tenants_intake_batch_events_count"), sum: m("tenants_intake_batch_events_sum") };
}
const meanBatch = (a: { count: number; sum: number }, b: { count: number; sum: number }) => ((b.sum - a.sum) / Math.max(1, b.count - a.count)).toFixed(1);

async function drained(url: string): Promise<void> {
  while ((await metrics(url))("tenants_reconcile_queue_depth") !== 0) await new Promise((r) => setTimeout(r, 200));
}

const rps = (r: autocannon.Result) => r.requests.average.toFixed(0);
const codes = (r: autocannon.Result) => `${r["2xx"]} 2xx, ${r.non2xx} other, ${r.errors} errors`;

/** One service process: as fast as it goes, then paced at 1,000 req/s; memory around 1,000 operations if asked. */
async function measureService(engineDelayMs: number, withMemory: boolean) {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-load-"));
  const svc = await child("bench/support/service-child.ts", {
    DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: SECRET, OPERATOR_TOKEN: TOKEN, WEBHOOK_RATE_PER_SECOND: "0",
    LOG_LEVEL: "error", ENGINE_DELAY_MS: String(engineDelayMs),
  });
  // With a slow engine the operations' backlog outlives the run (as it would in production): no draining.
  const settle = () => (engineDelayMs === 0 ? drained(svc.url) : Promise.resolve());
  try {
    await run(svc.url, { connections: 4, seconds: 2, subscriptions: 50 });
    await settle();
    const b0 = await batches(svc.url);
    const fast = await run(svc.url, { connections: 10, seconds: SECONDS, subscriptions: 500 });
    const b1 = await batches(svc.url);
    await settle();
    const b2 = await batches(svc.url);
    const paced = await run(svc.url, { connections: 20, seconds: SECONDS, rate: 1000, subscriptions: 1000 });
    const b3 = await batches(svc.url);
    await settle();
    const perBatch = { fast: meanBatch(b0, b1), paced: meanBatch(b2, b3) };
    if (!withMemory) return { fast, paced, perBatch, mem: null };
    // Memory around 1,000 stack operations: 1,000 new subscriptions, each one engine `up`.
    const before = await memory(svc.url);
    for (let i = 0; i < 1000; i += 20) {
      await Promise.all(Array.from({ length: 20 }, async (_, k) => {
        const e = nextEvent(1_000_000);
        const body = e.body.replace('"subscription.modified"', '"subscription.created"').replace(/"id":"s\d+"/, `"id":"m${i + k}"`);
        const ts = String(Math.floor(Date.now() / 1000));
        const res = await fetch(`${svc.url}/v1/events`, { method: "POST", body, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(SECRET, ts, body) } });
        await res.arrayBuffer();
      }));
    }
    await drained(svc.url);
    return { fast, paced, perBatch, mem: { before, after: await memory(svc.url) } };
  } finally {
    svc.proc.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** As fast as it goes, after a warm-up: a handler that stores nothing. */
async function measureStateless(script: string, env: Record<string, string>) {
  const c = await child(script, env);
  try {
    await run(c.url, { connections: 4, seconds: 2, subscriptions: 50 });
    return await run(c.url, { connections: 10, seconds: SECONDS, subscriptions: 500 });
  } finally {
    c.proc.kill("SIGINT");
  }
}
const b = await measureStateless("bench/support/bare-child.ts", {});
// A data directory of its own even here (loadConfig writes its secrets there), never tmpdir() itself: issue 25.
const noStoreDir = mkdtempSync(join(tmpdir(), "bench-load-no-store-"));
const noStore = await measureStateless("bench/support/no-store-child.ts", { DATA_DIR: noStoreDir, WEBHOOK_SECRET: SECRET, OPERATOR_TOKEN: TOKEN, LOG_LEVEL: "error" }).finally(() =>
  rmSync(noStoreDir, { recursive: true, force: true }),
);
const instant = await measureService(0, true);
const realistic = await measureService(2000, false);

console.log(`webhook load, loopback, ${SECONDS} s per phase, 10 connections, embedded PGlite, one new signed event per request`);
console.log(`bare Hono handler:                      ${rps(b)} req/s, p50 ${b.latency.p50} ms, p99 ${b.latency.p99} ms (${codes(b)})`);
console.log(`service's HTTP path, nothing stored:    ${rps(noStore)} req/s, p50 ${noStore.latency.p50} ms, p99 ${noStore.latency.p99} ms (${codes(noStore)}); ratio to bare ${(noStore.requests.average / b.requests.average).toFixed(3)}x (signature, schema, limits, logging, response: the ceiling of any store)`);
for (const [name, r] of [["engine 0 ms (every event an operation)", instant], ["engine 2 s (a real pulumi up)", realistic]] as const) {
  console.log(`service, ${name}: ${rps(r.fast)} req/s durable 202s, p50 ${r.fast.latency.p50} ms, p99 ${r.fast.latency.p99} ms (${codes(r.fast)}); ratio to bare ${(r.fast.requests.average / b.requests.average).toFixed(3)}x (target >= 0.5x); ${r.perBatch.fast} events per transaction`);
  console.log(`  paced at 1,000 req/s: ${rps(r.paced)} req/s achieved, p50 ${r.paced.latency.p50} ms, p99 ${r.paced.latency.p99} ms (target <= 10 ms) (${codes(r.paced)}); ${r.perBatch.paced} events per transaction`);
}
if (instant.mem) console.log(`service memory: rss ${instant.mem.before.rss.toFixed(0)} MiB / heap ${instant.mem.before.heap.toFixed(0)} MiB before 1,000 operations, rss ${instant.mem.after.rss.toFixed(0)} MiB / heap ${instant.mem.after.heap.toFixed(0)} MiB after`);
