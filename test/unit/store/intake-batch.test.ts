import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventType, MarketplaceEvent } from "../../../src/domain/event.js";
import { foldEvent, type DesiredState } from "../../../src/domain/subscription.js";
import { openPglite, type Db } from "../../../src/store/db.js";
import { IntakeBatcher } from "../../../src/store/intake-batcher.js";
import { migrate } from "../../../src/store/migrations.js";
import { SubscriptionStore, type EventIntake } from "../../../src/store/subscription-store.js";
import { PREPAID } from "../../support/events.js";

const TYPES: EventType[] = ["subscription.created", "subscription.modified", "subscription.suspended", "subscription.resumed", "subscription.cancelled"];

/** Events over 3 subscriptions, 6 instants and 4 plans, ids drawn from a small pool: duplicates, ties and stale events are common. */
const events = fc.array(fc.nat(24), { minLength: 1, maxLength: 30 }).map((ns) =>
  ns.map((n): MarketplaceEvent => ({
    // An event is a function of its id: a repeated id is a re-delivery of the same event.
    id: `e${n}`,
    type: TYPES[n % TYPES.length]!,
    occurredAt: new Date(Date.UTC(2026, 10, 1, n % 6)).toISOString(),
    subscription: { id: ["a", "b", "c"][n % 3]!, customer: { id: "c-1", name: "C", email: "c@example.com" }, plan: { ...PREPAID, cores: 1 + (n % 4) } },
  })),
);

/** A result without the transaction's clock (two databases never share it). */
const comparable = (r: EventIntake) => JSON.parse(JSON.stringify(r, (k, v) => (k === "createdAt" || k === "updatedAt" ? undefined : v))) as unknown;

async function rows(db: Db) {
  return {
    subscriptions: await db.query("SELECT id, desired, generation, phase, token_hash, token_generation FROM subscriptions ORDER BY id"),
    events: await db.query("SELECT id, subscription_id, type, outcome, reason, token_generation FROM events ORDER BY id"),
  };
}

/**
 * What taking an event in means, written plainly: the reference both the single and the batched paths
 * are held to. A repeated id is a duplicate answered with what the event became; otherwise the event is
 * folded, and an applied change bumps the generation and makes the subscription pending (so does any
 * applied event of a failed one); every subscription left pending has a job queued.
 */
class IntakeModel {
  private readonly subs = new Map<string, { id: string; desired: DesiredState; generation: number; phase: string; token_hash: null; token_generation: number }>();
  private readonly events = new Map<string, { id: string; subscription_id: string; type: string; outcome: string; reason: string | null; token_generation: number | null }>();
  private readonly jobs = new Set<string>();

  take(e: MarketplaceEvent): unknown {
    const earlier = this.events.get(e.id);
    if (earlier) return { outcome: "duplicate", original: earlier.outcome, reason: earlier.reason, subscription: this.view(earlier.subscription_id), firstTokenGeneration: earlier.token_generation };
    const before = this.subs.get(e.subscription.id);
    const folded = foldEvent(before?.desired ?? null, e);
    const reason = folded.outcome === "applied" ? null : folded.reason;
    if (folded.outcome !== "applied") {
      this.events.set(e.id, { id: e.id, subscription_id: e.subscription.id, type: e.type, outcome: folded.outcome, reason, token_generation: before?.token_generation ?? null });
      return { outcome: folded.outcome, reason, subscription: this.view(e.subscription.id) };
    }
    const after = before
      ? { ...before, desired: folded.state, generation: before.generation + (folded.changed ? 1 : 0), phase: folded.changed || before.phase === "failed" ? "pending" : before.phase }
      : { id: e.subscription.id, desired: folded.state, generation: 1, phase: "pending", token_hash: null, token_generation: 1 };
    this.subs.set(after.id, after);
    this.events.set(e.id, { id: e.id, subscription_id: e.subscription.id, type: e.type, outcome: "applied", reason, token_generation: after.token_generation });
    if (after.phase === "pending") this.jobs.add(after.id);
    return { outcome: "applied", changed: folded.changed, created: !before, subscription: this.view(after.id) };
  }

  setPhase(id: string, phase: string): void {
    const sub = this.subs.get(id);
    if (sub) sub.phase = phase;
  }

  private view(id: string): unknown {
    const s = this.subs.get(id);
    if (!s) return null;
    return { id: s.id, desired: s.desired, generation: s.generation, appliedGeneration: 0, phase: s.phase, lastError: null, outputs: null, tokenHash: s.token_hash, tokenGeneration: s.token_generation, pendingNote: null, rotatePassword: false, refreshNext: false };
  }

  rows() {
    const byId = <T extends { id: string }>(m: Map<string, T>) => [...m.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { subscriptions: byId(this.subs), events: byId(this.events) };
  }

  queued(): string[] {
    return [...this.jobs].sort();
  }
}

describe("group commit of webhooks (intakeBatch)", () => {
  let one: Db;
  let batched: Db;
  beforeAll(async () => {
    [one, batched] = await Promise.all([openPglite(), openPglite()]);
    await Promise.all([migrate(one), migrate(batched)]);
  }, 60_000);
  afterAll(async () => {
    await one.close();
    await batched.close();
  });

  it("gives every event the result, and leaves the database in the state, of taking the events one by one", async () => {
    // Batches of events; after each, possibly an operator's or a worker's change of phase (ready, failed).
    const steps = fc.array(
      fc.record({ events: events.filter((e) => e.length <= 8), after: fc.option(fc.record({ sub: fc.constantFrom("a", "b", "c"), phase: fc.constantFrom("ready", "failed") })) }),
      { minLength: 1, maxLength: 6 },
    );
    await fc.assert(
      fc.asyncProperty(steps, async (plan) => {
        for (const db of [one, batched]) await db.exec("TRUNCATE events, subscriptions CASCADE");
        const model = new IntakeModel();
        const stores = { one: new SubscriptionStore(one), batched: new SubscriptionStore(batched) };
        const queued = { one: new Set<string>(), batched: new Set<string>() };
        const results = { one: [] as EventIntake[], batched: [] as EventIntake[], model: [] as unknown[] };
        for (const step of plan) {
          for (const event of step.events) {
            results.model.push(model.take(event));
            results.one.push(await stores.one.intake(event, async (_tx, ids) => {
              for (const id of ids) queued.one.add(id);
            }));
          }
          const batch = step.events.map((event) => ({ event }));
          results.batched.push(...(await stores.batched.intakeBatch(batch, async (_tx, ids) => {
            for (const id of ids) queued.batched.add(id);
          })));
          if (step.after) {
            model.setPhase(step.after.sub, step.after.phase);
            for (const db of [one, batched]) await db.query("UPDATE subscriptions SET phase = $2 WHERE id = $1", [step.after.sub, step.after.phase]);
          }
        }
        expect(results.one.map(comparable)).toEqual(results.model);
        expect(results.batched.map(comparable)).toEqual(results.model);
        const stored = await rows(batched);
        expect(stored).toEqual(await rows(one));
        expect(stored).toEqual(model.rows());
        expect([...queued.batched].sort()).toEqual(model.queued());
        expect([...queued.one].sort()).toEqual(model.queued());
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it("stamps the subscriptions of a batch with the time of its transaction, as stored", async () => {
    await batched.exec("TRUNCATE events, subscriptions CASCADE");
    const store = new SubscriptionStore(batched);
    const e = (id: string, type: EventType, hour: number): MarketplaceEvent => ({
      id, type, occurredAt: new Date(Date.UTC(2026, 10, 1, hour)).toISOString(),
      subscription: { id: "t", customer: { id: "c-1", name: "C", email: "c@example.com" }, plan: { ...PREPAID, cores: hour + 1 } },
    });
    const [created, modified] = await store.intakeBatch([{ event: e("x1", "subscription.created", 1) }, { event: e("x2", "subscription.modified", 2) }]);
    const stored = await store.get("t");
    expect(created).toMatchObject({ outcome: "applied", created: true });
    expect(modified).toMatchObject({ outcome: "applied", created: false, subscription: { generation: 2, createdAt: stored?.createdAt, updatedAt: stored?.updatedAt } });
    expect(stored?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("a new subscription starts at token generation 1 with no token stored; re-issuing counts the generation up", async () => {
    await batched.exec("TRUNCATE events, subscriptions CASCADE");
    const store = new SubscriptionStore(batched);
    const base = { customer: { id: "c-1", name: "C", email: "c@example.com" }, plan: PREPAID };
    await store.intakeBatch([
      { event: { id: "y1", type: "subscription.created", occurredAt: "2026-11-01T01:00:00Z", subscription: { id: "u", ...base } } },
      { event: { id: "y2", type: "subscription.suspended", occurredAt: "2026-11-01T02:00:00Z", subscription: { id: "u", ...base } } },
      { event: { id: "y1", type: "subscription.created", occurredAt: "2026-11-01T01:00:00Z", subscription: { id: "u", ...base } } },
    ]);
    expect(await store.get("u")).toMatchObject({ tokenGeneration: 1, tokenHash: null });
    expect(await store.reissueToken("u")).toBe(2);
    expect(await store.reissueToken("nope")).toBeNull();
    expect((await store.get("u"))?.tokenGeneration).toBe(2);
  });
});

describe("IntakeBatcher", () => {
  const item = (id: string) => ({ event: { id } as MarketplaceEvent });
  const ok = (id: string): EventIntake => ({ outcome: "stale", reason: id, subscription: null });

  it("takes the events that arrive while a batch commits together, in order, each caller with its own result", async () => {
    const batches: string[][] = [];
    const sizes: number[] = [];
    let release: () => void = () => {};
    const batcher = new IntakeBatcher(async (items) => {
      batches.push(items.map((i) => i.event.id));
      if (batches.length === 1) await new Promise<void>((r) => (release = r));
      return items.map((i) => ok(i.event.id));
    }, { onBatch: (n) => sizes.push(n) });
    const first = batcher.submit(item("1"));
    await new Promise((r) => setImmediate(r));
    const rest = ["2", "3", "4", "5"].map((id) => batcher.submit(item(id)));
    release();
    const results = await Promise.all([first, ...rest]);
    expect(results.map((r) => (r as { reason: string }).reason)).toEqual(["1", "2", "3", "4", "5"]);
    expect(batches).toEqual([["1"], ["2", "3", "4", "5"]]);
    expect(sizes).toEqual([1, 4]);
  });

  it("a batch the database refuses is taken again event by event: only the culprit fails", async () => {
    const batcher = new IntakeBatcher(async (items) => {
      if (items.some((i) => i.event.id === "bad")) throw new Error("refused");
      return items.map((i) => ok(i.event.id));
    });
    const settled = await Promise.allSettled(["a", "bad", "c"].map((id) => batcher.submit(item(id))));
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  });

  it("holds background database work from the first waiting event until the last batch is taken, each batch as foreground work", async () => {
    const log: string[] = [];
    let release: () => void = () => {};
    const scheduler = {
      holdBackground: () => {
        log.push("hold");
        return () => log.push("release");
      },
      foreground: async <T,>(fn: () => Promise<T>) => {
        log.push("foreground");
        return fn();
      },
      ahead: <T,>(fn: () => Promise<T>) => fn(),
      ordinary: <T,>(fn: () => Promise<T>) => fn(),
    };
    const batcher = new IntakeBatcher(async (items) => {
      log.push(`batch ${items.length}`);
      if (log.length === 3) await new Promise<void>((r) => (release = r));
      return items.map((i) => ok(i.event.id));
    }, { scheduler });
    const first = batcher.submit(item("1"));
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(["hold", "foreground", "batch 1"]);
    release();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(["hold", "foreground", "batch 1", "release"]);
  });
});
