/**
 * The capacity check of an order (issue 33): what it costs at N subscriptions on the embedded store.
 * Prints figures; asserts nothing.
 *
 * A fresh PGlite (as the service opens it: migrated, no ANALYZE) holding N subscriptions spread over three
 * targets (60% default, 30% `two`, 10% `three`; 80% prepaid, 10% PAYG, 2% cancelled), inserted directly.
 * Then R order checks as CapacityService.shortfalls makes them: Placement read through a double that
 * counts its reads (cached 30 s: one read for all R orders), what is sold summed by the database in one
 * aggregate query (store/sold-store.ts). Baselines measured in the same run: reading every subscription's
 * desired state and summing in the process (what a check without the aggregate would do), and the
 * OpenStack way the check must not take: one quota read per project (counted, not made: at the ~20 ms a
 * loopback Nova takes per quota read, N reads per order).
 *   Usage: npx tsx bench/capacity.ts [subscriptions=10000] [orders=500]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demandOf, addAmounts, ZERO, type Amounts } from "../src/domain/capacity.js";
import { foldEvent } from "../src/domain/subscription.js";
import { createLogger, makeRedactor } from "../src/log.js";
import { CapacityService, type PlacementReading } from "../src/provisioning/capacity.js";
import { openDb } from "../src/store/db.js";
import { migrate } from "../src/store/migrations.js";
import { SoldStore } from "../src/store/sold-store.js";
import { DesiredState } from "../src/domain/subscription.js";

const N = Number(process.argv[2] ?? 10_000);
const R = Number(process.argv[3] ?? 500);
const say = (line: string) => process.stdout.write(`${line}\n`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const ms = (x: number) => `${x.toFixed(2)} ms`;

const dataDir = mkdtempSync(join(tmpdir(), "tenants-capacity-"));
const { db } = await openDb({ dataDir });
await migrate(db);
const at = "2026-11-24T10:00:00.000Z";
const { state: template } = foldEvent(null, {
  id: "evt-bench", type: "subscription.created", occurredAt: at,
  subscription: { id: "0", customer: { id: "c-1", name: "Bench Ltd", email: "ops@bench.example" }, plan: { model: "prepaid", cores: 4, ramGb: 8, diskGb: 100, floatingIps: 1 } },
});
const t0 = performance.now();
await db.query(
  `INSERT INTO subscriptions (id, desired, generation, applied_generation, phase)
   SELECT id,
     jsonb_set(jsonb_set(jsonb_set($1::jsonb, '{id}', to_jsonb(id)),
       '{status}', to_jsonb(CASE WHEN n % 50 = 49 THEN 'cancelled' ELSE 'active' END)),
       '{plan}', CASE WHEN n % 10 = 9 THEN '{"model":"payg"}'::jsonb
                      WHEN n % 10 < 6 THEN $1::jsonb->'plan'
                      WHEN n % 10 < 8 THEN ($1::jsonb->'plan') || '{"target":"two"}'::jsonb
                      ELSE ($1::jsonb->'plan') || '{"target":"three"}'::jsonb END),
     1, 1, CASE WHEN n % 50 = 49 THEN 'cancelled' ELSE 'ready' END
   FROM (SELECT n, lpad(n::text, 6, '0') AS id FROM generate_series(0, $2::int - 1) AS n) AS s`,
  [JSON.stringify(template), N],
);
say(`capacity checks at ${N} subscriptions on PGlite (${dataDir}), ${R} orders; filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

let placementReads = 0;
const big: PlacementReading = { physical: { VCPU: 1_000_000, MEMORY_MB: 1_000_000_000, DISK_GB: 100_000_000 }, used: { ...ZERO }, providers: 40 };
const sold = new SoldStore(db);
const log = createLogger({ redact: makeRedactor([]), write: () => {}, level: "error" });
const capacity = new CapacityService({
  defaultTarget: "default", sold, log,
  targets: ["default", "two", "three"].map((name) => ({ name, selling: {}, placement: async () => {
    placementReads++;
    return big;
  } })),
});

const plan = { model: "prepaid" as const, cores: 8, ramGb: 16, diskGb: 200, floatingIps: 2, target: "two" };
const times = async (f: (i: number) => Promise<unknown>) => {
  const out: number[] = [];
  for (let i = 0; i < R; i++) {
    const t = performance.now();
    await f(i);
    out.push(performance.now() - t);
  }
  return out;
};
// Warm up (PGlite's first statements plan and cache).
for (let i = 0; i < 20; i++) await capacity.shortfalls(`x${i}`, plan);

const check = await times((i) => capacity.shortfalls(String(i).padStart(6, "0"), plan));
const report = await times(() => capacity.report());
// Baseline: every desired state read and summed here, per order.
const naive = await times(async (i) => {
  const rows = await db.query<{ desired: unknown }>("SELECT desired FROM subscriptions WHERE id <> $1", [String(i).padStart(6, "0")]);
  let total: Amounts = { ...ZERO };
  for (const r of rows) {
    const d = DesiredState.parse(typeof r.desired === "string" ? JSON.parse(r.desired) : r.desired);
    if (d.status !== "cancelled" && (d.plan.target ?? "default") === "two") total = addAmounts(total, demandOf(d.plan));
  }
  return total;
});
say(`order check (aggregate query + cached Placement): p50 ${ms(pct(check, 50))}, p99 ${ms(pct(check, 99))}, Placement reads over ${R + 20} orders and ${R} reports: ${placementReads} (each target's reading kept 30 s)`);
say(`operators' report, three targets:                p50 ${ms(pct(report, 50))}, p99 ${ms(pct(report, 99))}`);
say(`baseline, every desired state summed per order:  p50 ${ms(pct(naive, 50))}, p99 ${ms(pct(naive, 99))} (${(pct(naive, 50) / pct(check, 50)).toFixed(1)}x the aggregate)`);
say(`not done: one quota read per project per order would be ${N} OpenStack requests an order (${((N * 20) / 1000).toFixed(0)} s at 20 ms each)`);
await db.close();
rmSync(dataDir, { recursive: true, force: true });
