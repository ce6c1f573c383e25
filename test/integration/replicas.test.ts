import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventType, MarketplaceEvent } from "../../src/domain/event.js";
import { foldEvent, type DesiredState } from "../../src/domain/subscription.js";
import { tenantSpecOf } from "../../src/domain/tenant-spec.js";
import { openPostgres, type Db } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrations.js";
import { sharedSchedule } from "../../src/store/fleet-schedule.js";
import { event } from "../support/events.js";
import { harnessWith } from "../support/harness.js";
import { RecordingEngine, SharedBackend } from "../support/recording-engine.js";
import { SETTINGS } from "../support/settings.js";
import { testcloud } from "../support/testcloud.js";

/** A deterministic pseudo-random sequence (the same events on every run). */
function rng(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/** Per subscription: created, then modifications, suspensions, resumptions, maybe a cancellation. */
function eventsFor(id: string, n: number, rand: () => number): MarketplaceEvent[] {
  const out: MarketplaceEvent[] = [];
  const start = Date.UTC(2026, 10, 1);
  for (let i = 0; i < n; i++) {
    const type: EventType =
      i === 0 ? "subscription.created"
      : i === n - 1 && rand() < 0.3 ? "subscription.cancelled"
      : (["subscription.modified", "subscription.modified", "subscription.suspended", "subscription.resumed"] as const)[Math.floor(rand() * 4)] ?? "subscription.modified";
    out.push({
      id: `${id}-e${i}`,
      type,
      occurredAt: new Date(start + i * 60_000).toISOString(),
      subscription: {
        id, customer: { id: `c-${id}`, name: "Example Ltd", email: "ops@example.com" },
        plan: rand() < 0.2 ? { model: "payg" } : { model: "prepaid", cores: 1 + Math.floor(rand() * 16), ramGb: 2 + Math.floor(rand() * 30), diskGb: 10 + Math.floor(rand() * 500), floatingIps: Math.floor(rand() * 4) },
      },
    });
  }
  return out;
}

const dbName = `replicas_${randomBytes(4).toString("hex")}`;
let admin: pg.Client;
let dbA: Db;
let dbB: Db;

beforeAll(async () => {
  const url = new URL(testcloud().TESTCLOUD_DATABASE_URL as string);
  admin = new pg.Client({ connectionString: url.href });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  url.pathname = `/${dbName}`;
  dbA = await openPostgres(url.href);
  dbB = await openPostgres(url.href);
  await Promise.all([migrate(dbA), migrate(dbB)]);
});
afterAll(async () => {
  await dbA?.close();
  await dbB?.close();
  await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin?.end();
});

describe("two replicas on one real PostgreSQL", () => {
  it("500 events over 100 subscriptions, shuffled, with duplicates and stale ones: each ends as the fold of its events, once", async () => {
    // One Pulumi backend and one cloud behind both replicas; each has a work tree (stack config) of its own.
    const backend = new SharedBackend();
    const a = await harnessWith(new RecordingEngine(backend), { replicaOf: { db: dbA, pollMs: 200 }, concurrency: 4 });
    const b = await harnessWith(new RecordingEngine(backend), { replicaOf: { db: dbB, pollMs: 200 }, concurrency: 4 });
    const engine = backend;
    a.reconciler.start();
    b.reconciler.start();
    try {
      const rand = rng(42);
      const bySub = new Map<string, MarketplaceEvent[]>();
      for (let s = 0; s < 100; s++) bySub.set(`r${s}`, eventsFor(`r${s}`, 5, rand));
      const all = [...bySub.values()].flat();
      // Shuffle (late events arrive after newer ones), then deliver 10% twice (marketplace retries).
      for (let i = all.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [all[i], all[j]] = [all[j] as MarketplaceEvent, all[i] as MarketplaceEvent];
      }
      const deliveries = [...all, ...all.filter(() => rand() < 0.1)];
      expect(all).toHaveLength(500);

      const statuses = new Map<number, number>();
      const send = async (e: MarketplaceEvent, i: number) => {
        const res = await (i % 2 === 0 ? a : b).send(e);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      };
      // Eight senders at once, alternating replicas.
      for (let i = 0; i < deliveries.length; i += 8) await Promise.all(deliveries.slice(i, i + 8).map((e, k) => send(e, i + k)));
      expect(statuses.get(500) ?? 0, [...a.logs, ...b.logs].filter((l) => l.includes('"level":"error"')).slice(0, 3).join("\n")).toBe(0);

      // Wait until both replicas have nothing left to do.
      for (let round = 0; round < 600; round++) {
        await Promise.all([a.reconciler.idle(), b.reconciler.idle()]);
        const [row] = await dbA.query<{ n: number }>("SELECT count(*)::int AS n FROM subscriptions WHERE generation > applied_generation");
        if (row?.n === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }

      let lost = 0;
      for (const [id, events] of bySub) {
        // The fold is order-independent: folding in any order gives what the marketplace meant.
        let expected: DesiredState | null = null;
        for (const e of events) expected = foldEvent(expected, e).state;
        const sub = await a.store.get(id);
        // `lastEvent` names the event that last *changed* the state, in arrival order (it is the cause
        // written in the stack history), so it depends on delivery order; the state itself must not.
        const { lastEvent: _x, ...state } = sub?.desired ?? ({} as DesiredState);
        const { lastEvent: _y, ...meant } = expected as DesiredState;
        expect(state, id).toEqual(meant);
        if (!sub || sub.appliedGeneration !== sub.generation) lost++;
        const calls = engine.callsFor(`sub-${id}`).filter((c) => c.op === "up" || c.op === "destroy");
        const last = calls.at(-1);
        // A subscription cancelled before any operation began on it never had a stack: nothing to destroy.
        if (expected?.status === "cancelled") expect(calls.length === 0 ? "never provisioned" : last?.op, id).toMatch(/^(?:destroy|never provisioned)$/);
        else expect(last?.spec, id).toEqual(tenantSpecOf(expected as DesiredState, SETTINGS));
      }
      expect(lost).toBe(0);

      // Nothing doubled: never two operations on one stack at once, never one generation applied twice,
      // and generations applied in increasing order per subscription (order kept).
      expect(engine.maxConcurrentPerStack).toBe(1);
      // A replica whose work tree never saw a stack applies the password the stack already has.
      expect([...backend.passwordChanges]).toEqual([]);
      const ops = await dbA.query<{ subscription_id: string; generation: number }>(
        "SELECT subscription_id, generation FROM operations WHERE result = 'succeeded' ORDER BY id",
      );
      const seen = new Map<string, number>();
      for (const op of ops) {
        expect(op.generation, op.subscription_id).toBeGreaterThan(seen.get(op.subscription_id) ?? 0);
        seen.set(op.subscription_id, op.generation);
      }
      const byReplica = await dbA.query<{ owner: string; n: number }>("SELECT split_part(owner, ':', 3) AS owner, count(*)::int AS n FROM operations GROUP BY 1");
      expect(byReplica.length).toBe(2); // both replicas did work
      console.log(`replicas: ${deliveries.length} deliveries (${statuses.get(202) ?? 0} accepted, ${statuses.get(200) ?? 0} duplicate/stale, ${statuses.get(409) ?? 0} refused); ${ops.length} stack operations; per replica ${byReplica.map((r) => r.n).join(" / ")}`);
    } finally {
      await a.close();
      await b.close();
    }
  }, 240_000);

  it("the drift sweep and the rollout tick run once per interval across the fleet: of two replicas whose timers fire together, one runs it", async () => {
    const backend = new SharedBackend();
    const a = await harnessWith(new RecordingEngine(backend), { replicaOf: { db: dbA, pollMs: 200 }, schedule: sharedSchedule(dbA, "replica-a"), driftIntervalSeconds: 1 });
    const b = await harnessWith(new RecordingEngine(backend), { replicaOf: { db: dbB, pollMs: 200 }, schedule: sharedSchedule(dbB, "replica-b"), driftIntervalSeconds: 1 });
    try {
      expect((await a.send(event("sweep-1", "subscription.created"))).status).toBe(202);
      await a.reconciler.idle();
      expect((await a.store.get("sweep-1"))?.phase).toBe("ready");
      const due = async (name: string) => {
        const [row] = await dbA.query<{ due: boolean }>("SELECT due_at <= now() AS due FROM fleet_schedules WHERE name = $1", [name]);
        return row?.due ?? true;
      };
      const waitDue = async (name: string) => {
        const deadline = Date.now() + 30_000;
        while (!(await due(name))) {
          if (Date.now() > deadline) throw new Error(`${name} never came due`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      // Five intervals; in each, both replicas' timers fire at the same moment.
      const sweepers: string[] = [];
      for (let round = 0; round < 5; round++) {
        await waitDue("drift-sweep");
        const [byA, byB] = await Promise.all([a.drift?.scheduledSweep(), b.drift?.scheduledSweep()]);
        const swept = [byA, byB].filter((r) => r !== null);
        // One replica swept, and checked the stack: once per interval, not once per replica per interval.
        expect(swept, `round ${round}`).toHaveLength(1);
        expect(swept[0]?.map((r) => [r.subscription, r.outcome])).toContainEqual(["sweep-1", "checked"]);
        sweepers.push(byA !== null ? "a" : "b");
      }
      const ticks: string[] = [];
      for (let round = 0; round < 5; round++) {
        await waitDue("rollout-tick");
        const [byA, byB] = await Promise.all([a.rollouts.scheduledTick(), b.rollouts.scheduledTick()]);
        expect([byA, byB].filter(Boolean), `tick ${round}`).toHaveLength(1);
        ticks.push(byA ? "a" : "b");
      }
      const [row] = await dbA.query<{ runs: string }>("SELECT runs FROM fleet_schedules WHERE name = 'drift-sweep'");
      expect(Number(row?.runs)).toBe(5);
      console.log(`fleet schedules: drift sweeps by ${sweepers.join("")}, rollout ticks by ${ticks.join("")}`);
    } finally {
      await a.close();
      await b.close();
    }
  }, 120_000);
});
