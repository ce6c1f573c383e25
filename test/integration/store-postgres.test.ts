import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, type Db } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrations.js";
import { SubscriptionStore } from "../../src/store/subscription-store.js";
import { event } from "../support/events.js";
import { testcloud } from "../support/testcloud.js";

let a: Db;
let b: Db;
beforeAll(async () => {
  a = await openPostgres(testcloud().TESTCLOUD_DATABASE_URL as string);
  b = await openPostgres(testcloud().TESTCLOUD_DATABASE_URL as string);
  await migrate(a);
  await migrate(b); // a second migrate is a no-op
  await a.exec("TRUNCATE subscriptions, events, operations RESTART IDENTITY");
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

describe("the store on a real PostgreSQL (DATABASE_URL)", () => {
  it("the same event delivered to two replicas at once is applied exactly once", async () => {
    const e = event("pg1", "subscription.created");
    const results = await Promise.all([new SubscriptionStore(a).intake(e), new SubscriptionStore(b).intake(e)]);
    expect(results.map((r) => r.outcome).sort()).toEqual(["applied", "duplicate"]);
    const rows = await a.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE id = $1", [e.id]);
    expect(rows[0]?.n).toBe(1);
  });

  it("concurrent events for one subscription on two replicas serialise: the newest wins, generations count each change", async () => {
    const store1 = new SubscriptionStore(a);
    const store2 = new SubscriptionStore(b);
    await store1.intake(event("pg2", "subscription.created", { at: "2026-11-01T00:00:00Z" }));
    const events = Array.from({ length: 20 }, (_, i) =>
      event("pg2", "subscription.modified", { at: new Date(Date.UTC(2026, 10, 2, 0, 0, i)).toISOString(), plan: { model: "prepaid", cores: i + 1, ramGb: 1, diskGb: 1, floatingIps: 0 } }),
    );
    await Promise.all(events.map((e, i) => (i % 2 ? store1 : store2).intake(e)));
    const sub = await store1.get("pg2");
    expect(sub?.desired.plan).toMatchObject({ cores: 20 });
    expect(await store2.pendingIds()).toContain("pg2");
  });

  it("a failure recorded while another replica's event holds the subscription sees that event: it stays pending for it", async () => {
    const store = new SubscriptionStore(a);
    await store.intake(event("pg3", "subscription.created"));
    const op = await store.beginOperation("pg3", 1, "up", "evt-pg3", "host-a:1:x");
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let changed!: () => void;
    const isChanged = new Promise<void>((r) => (changed = r));
    // Replica b takes in a change as an intake batch does: the row locked, the generation moved on, not yet committed.
    const intake = b.transaction(async (tx) => {
      await tx.query("UPDATE subscriptions SET generation = generation + 1, phase = 'pending' WHERE id = $1", ["pg3"]);
      changed();
      await released;
    });
    await isChanged;
    const recorded = store.recordOutcome({ id: op.id, subscription: "pg3", generation: 1 }, { result: "failed", error: "400 Bad Request" });
    try {
      // b commits only once the outcome's transaction waits for the row.
      for (const deadline = Date.now() + 10_000; ; ) {
        const [w] = await b.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()");
        if ((w?.n ?? 0) > 0) break;
        if (Date.now() > deadline) throw new Error("the outcome never waited for the subscription's row");
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      release();
      await intake;
    }
    expect(await recorded).toMatchObject({ phase: "pending", generation: 2, appliedGeneration: 0, lastError: "400 Bad Request" });
  });
});
