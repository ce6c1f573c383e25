/**
 * Webhook and reconcile overhead, on loopback, bounded. Prints figures; asserts nothing.
 *   - latency of durable 202s (event stored in the embedded PGlite before the answer), sequential and
 *     with 16 concurrent senders, next to a bare Hono handler measured in the same run;
 *   - the overhead of one reconcile around the engine (store reads/writes, spec, bookkeeping), measured
 *     with an engine that returns at once, so what is left is ours.
 *   Usage: npx tsx bench/webhook.ts [events=1000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { loadConfig } from "../src/config.js";
import { signWebhook } from "../src/domain/webhook-signature.js";
import { InstantEngine } from "./support/instant-engine.js";
import { startService } from "../src/server.js";

const N = Number(process.argv[2] ?? 1000);
const SECRET = "bench-webhook-secret-0123456789";

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const body = (i: number, sub: string) =>
  JSON.stringify({ id: `evt-${i}`, type: i % 10 === 0 ? "subscription.created" : "subscription.modified", occurredAt: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    subscription: { id: sub, customer: { id: "c-1", name: "Bench", email: "b@example.com" }, plan: { model: "prepaid", cores: 1 + (i % 8), ramGb: 2, diskGb: 20, floatingIps: 1 } } });

async function send(url: string, raw: string): Promise<number> {
  const ts = String(Math.floor(Date.now() / 1000));
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(SECRET, ts, raw) } });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`unexpected ${res.status}`);
  return performance.now() - t0;
}

async function load(url: string, bodies: string[], concurrency: number): Promise<{ lat: number[]; seconds: number }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) lat.push(await send(url, bodies[next++] as string));
  }));
  return { lat, seconds: (performance.now() - t0) / 1000 };
}

// The bare baseline: the same request shape answered by Hono with nothing stored.
const bare = new Hono().post("/v1/events", async (c) => {
  await c.req.text();
  return c.json({ status: "accepted" }, 202);
});
const bareServer = await new Promise<{ url: string; close: () => void }>((resolve) => {
  const s = serve({ fetch: bare.fetch, port: 0, hostname: "127.0.0.1" }, (info) => resolve({ url: `http://127.0.0.1:${info.port}`, close: () => s.close() }));
});

const dataDir = mkdtempSync(join(tmpdir(), "bench-webhook-"));
const engine = new InstantEngine();
const svc = await startService(
  loadConfig({ DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: SECRET, LOG_LEVEL: "error", RECONCILE_CONCURRENCY: "4", WEBHOOK_RATE_PER_SECOND: "0" }),
  { engine },
);
const rssBefore = process.memoryUsage().rss;

// Warm-up, then: sequential (latency), then 16 concurrent senders (throughput).
await load(svc.url, Array.from({ length: 50 }, (_, i) => body(1_000_000 + i, "warm")), 1);
await load(bareServer.url, Array.from({ length: 50 }, (_, i) => body(i, "warm")), 1);
const subs = Math.max(1, Math.floor(N / 10));
const bodies = Array.from({ length: N }, (_, i) => body(i, `s${i % subs}`));
const seqBare = await load(bareServer.url, bodies, 1);
const seqSvc = await load(svc.url, bodies, 1);
const conBodies = Array.from({ length: N }, (_, i) => body(N + i, `c${i % subs}`));
const conBare = await load(bareServer.url, conBodies, 16);
const conSvc = await load(svc.url, conBodies, 16);

// Drain what the load queued, then time single reconciles: from the 202 to the applied state.
for (;;) {
  await svc.reconciler.idle();
  if ((await svc.store.pendingIds()).length === 0) break;
}
const reconcileMs: number[] = [];
const engineBefore = engine.engineMs;
const K = 200;
for (let i = 0; i < K; i++) {
  const sub = `r${i}`;
  const t = performance.now();
  await send(svc.url, body(10 * N + i * 10, sub).replace('"subscription.modified"', '"subscription.created"'));
  while ((await svc.store.get(sub))?.phase !== "ready") await svc.reconciler.idle();
  reconcileMs.push(performance.now() - t);
}
const engineMsPerOp = (engine.engineMs - engineBefore) / K;
const rssAfter = process.memoryUsage().rss;

const f = (x: number) => x.toFixed(2);
console.log(`events: ${N} per phase over ${subs} subscriptions; embedded PGlite; loopback`);
console.log(`sequential  bare: p50 ${f(pct(seqBare.lat, 50))} ms p99 ${f(pct(seqBare.lat, 99))} ms ${f(N / seqBare.seconds)} req/s | service (durable 202): p50 ${f(pct(seqSvc.lat, 50))} ms p99 ${f(pct(seqSvc.lat, 99))} ms ${f(N / seqSvc.seconds)} req/s`);
console.log(`16 senders  bare: p99 ${f(pct(conBare.lat, 99))} ms ${f(N / conBare.seconds)} req/s | service: p99 ${f(pct(conSvc.lat, 99))} ms ${f(N / conSvc.seconds)} req/s | throughput ratio ${f((N / conSvc.seconds) / (N / conBare.seconds))}x`);
console.log(`one reconcile, 202 → applied, around an instant engine: p50 ${f(pct(reconcileMs, 50))} ms p99 ${f(pct(reconcileMs, 99))} ms (engine itself ${f(engineMsPerOp)} ms/op; webhook p50 included)`);
console.log(`memory: rss ${(rssBefore / 2 ** 20).toFixed(0)} MiB after start, ${(rssAfter / 2 ** 20).toFixed(0)} MiB after ${2 * N + K} events`);
await svc.close();
bareServer.close();
rmSync(dataDir, { recursive: true, force: true });
