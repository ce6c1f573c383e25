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
});
