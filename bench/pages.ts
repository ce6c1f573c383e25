/**
 * Pages of the list endpoints on the embedded store (issue 16: a page of 100 out of 10,000 in <= 50 ms
 * p99). Prints figures; asserts nothing.
 *
 * A fresh PGlite in a temporary data directory (as the service opens it: migrations run, pg-boss
 * started, no ANALYZE: the embedded store has no autovacuum), filled with rows inserted directly (fast):
 * N subscriptions (90% ready, 4% pending, 3% failed, 2% held, 1% cancelled; 10% suspended), a drift row
 * per ready stack (95% in sync, 4% drifted, 1% failed), and 1,000 dead-lettered jobs. Then, through the
 * real app (`app.request`, the wiring of src/workers.ts, an instant engine), R page requests of each
 * kind, walking the list by nextCursor (back to the first page after the last):
 *   unfiltered, by phase (ready, and the rare failed), by status, drift (all, and by state), dead
 *   letters, and the last page of the fleet asked R times; and, as the baseline, the old unpaged read
 *   of the whole fleet (what GET /v1/subscriptions did before pages).
 *   Usage: npx tsx bench/pages.ts [subscriptions=10000] [requests=500]
 */
import { view } from "../src/api/views.js";
import { foldEvent } from "../src/domain/subscription.js";
import { readPage } from "../src/store/sql.js";
import { BENCH_TOKEN, embeddedService } from "./support/embedded-service.js";

const N = Number(process.argv[2] ?? 10_000);
const R = Number(process.argv[3] ?? 500);
const TOKEN = BENCH_TOKEN;
const say = (line: string) => process.stdout.write(`${line}\n`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const ms = (x: number) => `${x.toFixed(1)} ms`;

const { dataDir, db, w, app, close } = await embeddedService("pages", say);

// The fleet, in three statements: a valid desired state from the domain's own fold, its id replaced.
const t0 = performance.now();
const at = "2026-11-24T10:00:00.000Z";
const { state: template } = foldEvent(null, {
  id: "evt-bench", type: "subscription.created", occurredAt: at,
  subscription: { id: "0", customer: { id: "c-1", name: "Bench Ltd", email: "ops@bench.example" }, plan: { model: "prepaid", cores: 8, ramGb: 16, diskGb: 200, floatingIps: 2 } },
});
await db.query(
  `INSERT INTO subscriptions (id, desired, generation, applied_generation, phase)
   SELECT id, jsonb_set(jsonb_set($1::jsonb, '{id}', to_jsonb(id)), '{status}', to_jsonb(CASE WHEN n % 100 = 99 THEN 'cancelled' WHEN n % 10 = 3 THEN 'suspended' ELSE 'active' END)),
     1, CASE WHEN n % 100 < 90 THEN 1 ELSE 0 END,
     CASE WHEN n % 100 < 90 THEN 'ready' WHEN n % 100 < 94 THEN 'pending' WHEN n % 100 < 97 THEN 'failed' WHEN n % 100 < 99 THEN 'held' ELSE 'cancelled' END
   FROM (SELECT n, lpad(n::text, 6, '0') AS id FROM generate_series(0, $2::int - 1) AS n) AS s`,
  [JSON.stringify(template), N],
);
await db.query(
  `INSERT INTO drift (subscription_id, state, differences, error)
   SELECT id, CASE WHEN n % 100 < 95 THEN 'in_sync' WHEN n % 100 < 99 THEN 'drifted' ELSE 'failed' END,
     CASE WHEN n % 100 BETWEEN 95 AND 98 THEN '[{"resource":"compute-quota","type":"openstack:compute/quotaSetV2:QuotaSetV2","change":"update","properties":["cores"]}]'::jsonb ELSE '[]'::jsonb END,
     CASE WHEN n % 100 = 99 THEN 'the engine failed' END
   FROM (SELECT n, lpad(n::text, 6, '0') AS id FROM generate_series(0, $1::int - 1) AS n) AS s WHERE n % 100 < 90`,
  [N],
);
await db.query(
  `INSERT INTO jobs.job (name, data, created_on)
   SELECT 'reconcile-dead', jsonb_build_object('subscription', lpad(n::text, 6, '0'), 'error', '503 Service Unavailable', 'attempts', 3),
     now() - n * interval '1 second'
   FROM generate_series(0, 999) AS n`,
);
say(`pages of ${N} subscriptions on PGlite (${dataDir}), ${R} requests each; filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const get = async (path: string) => {
  const res = await app.request(path, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { nextCursor: string | null };
};

/** R pages of a list, each following the last one's nextCursor (the first page again after the last). */
async function walk(path: string, query: string): Promise<number[]> {
  const times: number[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < R; i++) {
    const started = performance.now();
    const body = await get(`${path}?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    times.push(performance.now() - started);
    cursor = body.nextCursor;
  }
  return times;
}

/** The same page R times. */
async function again(path: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < R; i++) {
    const started = performance.now();
    await get(path);
    times.push(performance.now() - started);
  }
  return times;
}

// Warm-up: the first requests compile the routes and fill PGlite's caches.
await walk("/v1/subscriptions", "limit=100").then(() => undefined);

let last: string | null = null;
for (let body = await get("/v1/subscriptions?limit=100"); body.nextCursor !== null; ) {
  last = body.nextCursor;
  body = await get(`/v1/subscriptions?limit=100&cursor=${encodeURIComponent(last)}`);
}

const rows: Array<[string, number[]]> = [
  ["subscriptions, unfiltered", await walk("/v1/subscriptions", "limit=100")],
  ["subscriptions, phase=ready (90%)", await walk("/v1/subscriptions", "phase=ready&limit=100")],
  ["subscriptions, phase=failed (3%)", await walk("/v1/subscriptions", "phase=failed&limit=100")],
  ["subscriptions, status=suspended (10%)", await walk("/v1/subscriptions", "status=suspended&limit=100")],
  ["subscriptions, the last page", await again(`/v1/subscriptions?limit=100${last ? `&cursor=${encodeURIComponent(last)}` : ""}`)],
  ["drift, unfiltered", await walk("/v1/drift", "limit=100")],
  ["drift, state=drifted (4%)", await walk("/v1/drift", "state=drifted&limit=100")],
  ["dead letters (1,000)", await walk("/v1/dead-letters", "limit=100")],
  ["subscriptions, limit=1000", await walk("/v1/subscriptions", "limit=1000")],
];

// Baseline: the old endpoint's work, the whole fleet read and mapped (10 times: it is slow).
const baseline: number[] = [];
for (let i = 0; i < 10; i++) {
  const started = performance.now();
  JSON.stringify({ subscriptions: (await w.store.list()).map(view) });
  baseline.push(performance.now() - started);
}
const base = pct(baseline, 50);

say(`${"page of 100 unless said".padEnd(40)} ${"p50".padStart(9)} ${"p99".padStart(9)} ${"max".padStart(9)}  p50 vs the whole list`);
for (const [name, times] of rows) {
  say(`${name.padEnd(40)} ${ms(pct(times, 50)).padStart(9)} ${ms(pct(times, 99)).padStart(9)} ${ms(Math.max(...times)).padStart(9)}  ${(pct(times, 50) / base).toFixed(3)}x`);
}
say(`${`baseline: the whole list of ${N}, unpaged`.padEnd(40)} ${ms(base).padStart(9)} ${ms(pct(baseline, 99)).padStart(9)} ${ms(Math.max(...baseline)).padStart(9)}`);

// How PostgreSQL reads each page (the indexes of migrations.ts), as the stores ask (store/sql.ts readPage),
// the fleet unanalysed as the embedded store always is.
for (const [name, sql, params] of [
  ["phase=ready", "SELECT id FROM subscriptions WHERE id > $1 AND phase = $2 ORDER BY id LIMIT 101", ["005000", "ready"]],
  ["status=suspended", "SELECT id FROM subscriptions WHERE id > $1 AND desired->>'status' = $2 ORDER BY id LIMIT 101", ["005000", "suspended"]],
  ["drift state=drifted", "SELECT subscription_id FROM drift WHERE subscription_id > $1 AND state = $2 ORDER BY subscription_id LIMIT 101", ["005000", "drifted"]],
] as const) {
  const plan = await readPage<{ "QUERY PLAN": string }>(db, `EXPLAIN ${sql}`, [...params]);
  say(`plan, ${name}: ${plan.map((p) => p["QUERY PLAN"].trim()).join(" / ")}`);
}

await close();
