import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";
import { PRICES } from "../../support/prices.js";

/**
 * Pages of the list endpoints (issue 16): limit and cursor in, nextCursor out, filters held across
 * pages, and every refusal a 4xx with a reason.
 */
let h: Awaited<ReturnType<typeof harness>>;
const FLEET = 250;
const ids = Array.from({ length: FLEET }, (_, i) => `s${String(i + 1).padStart(4, "0")}`);

type Listed = { subscriptions: Array<{ id: string; phase: string; status: string }>; nextCursor: string | null };
type Problem = { status: number; title: string; detail?: unknown };

const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
  const res = await h.asOperator(path);
  return { status: res.status, body: (await res.json()) as T };
};

/** Every page of a list, following nextCursor; the query is kept on every request. */
async function walk<T>(path: string, key: string, query: string): Promise<{ pages: T[][]; items: T[] }> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: Record<string, unknown> } = await get(`${path}?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    pages.push(res.body[key] as T[]);
    cursor = res.body.nextCursor as string | null;
    expect(pages.length).toBeLessThan(100);
  } while (cursor !== null);
  return { pages, items: pages.flat() };
}

beforeAll(async () => {
  // Billing wired (its list is paged too); Gnocchi is never reached here.
  h = await harness({ billing: { gnocchi: () => { throw new Error("Gnocchi is not used here"); }, prices: PRICES } });
  // The fleet through the store's intake (one transaction; no engine run): every subscription pending.
  await h.store.intakeBatch(ids.map((id) => ({ event: event(id, "subscription.created") })));
  await h.store.intakeBatch(ids.filter((_, i) => i % 7 === 0).map((id) => ({ event: event(id, "subscription.suspended") })));
  // Phases as the reconciler would leave them: every third ready, every fifth failed, the rest pending.
  await h.db.query(`UPDATE subscriptions SET phase = 'ready' WHERE id = ANY($1::text[])`, [ids.filter((_, i) => i % 3 === 0)]);
  await h.db.query(`UPDATE subscriptions SET phase = 'failed' WHERE id = ANY($1::text[])`, [ids.filter((_, i) => i % 3 !== 0 && i % 5 === 0)]);
});
afterAll(async () => {
  await h.close();
});

describe("pages of /v1/subscriptions", () => {
  it("pages of a 250-subscription fleet cover every subscription exactly once, in id order; the last page says so", async () => {
    const { pages, items } = await walk<Listed["subscriptions"][number]>("/v1/subscriptions", "subscriptions", "limit=100");
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    expect(items.map((s) => s.id)).toEqual(ids);
    // Without limit, pages of 100.
    const first = await get<Listed>("/v1/subscriptions");
    expect(first.body.subscriptions).toHaveLength(100);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    // A fleet that fits in one page: nextCursor null at once.
    expect((await get<Listed>("/v1/subscriptions?limit=1000")).body).toMatchObject({ nextCursor: null });
    expect((await get<Listed>("/v1/subscriptions?limit=250")).body.nextCursor).toBeNull();
  });

  it("a filter holds across pages: only its subscriptions, each once, all of them", async () => {
    const all = (await get<Listed>("/v1/subscriptions?limit=1000")).body.subscriptions;
    for (const [query, wanted] of [
      ["phase=ready", all.filter((s) => s.phase === "ready")],
      ["phase=failed", all.filter((s) => s.phase === "failed")],
      ["status=suspended", all.filter((s) => s.status === "suspended")],
      ["phase=ready&status=suspended", all.filter((s) => s.phase === "ready" && s.status === "suspended")],
    ] as const) {
      expect(wanted.length, query).toBeGreaterThan(5);
      const { pages, items } = await walk<Listed["subscriptions"][number]>("/v1/subscriptions", "subscriptions", `${query}&limit=7`);
      expect(pages.length, query).toBe(Math.ceil(wanted.length / 7));
      expect(items.map((s) => s.id), query).toEqual(wanted.map((s) => s.id));
    }
  });

  it("a subscription whose phase changes between two pages is neither repeated nor makes another one skipped", async () => {
    const ready = (await get<Listed>("/v1/subscriptions?phase=ready&limit=1000")).body.subscriptions.map((s) => s.id);
    const page = async (cursor: string | null) =>
      (await get<Listed>(`/v1/subscriptions?phase=ready&limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).body;
    const setPhase = (phase: string, ...which: string[]) => h.db.query(`UPDATE subscriptions SET phase = $1 WHERE id = ANY($2::text[])`, [phase, which]);
    const first = await page(null);
    const p1 = first.subscriptions.map((s) => s.id);
    expect(p1).toHaveLength(20);
    // After page 1: one before the cursor enters the filter (by offset, page 2 would repeat page 1's
    // last), one not shown yet leaves it.
    const before = ids.find((id) => id < (p1.at(-1) as string) && !ready.includes(id)) as string;
    const leaving = ready[30] as string;
    await setPhase("ready", before);
    await setPhase("failed", leaving);
    const second = await page(first.nextCursor);
    const p2 = second.subscriptions.map((s) => s.id);
    // After page 2: one shown on it leaves the filter (by offset, page 3 would skip one).
    await setPhase("failed", p2[2] as string);
    try {
      const seen = [...p1, ...p2];
      for (let cursor = second.nextCursor; cursor; ) {
        const next: Listed = await page(cursor);
        seen.push(...next.subscriptions.map((s) => s.id));
        cursor = next.nextCursor;
      }
      expect(seen).toEqual(ready.filter((id) => id !== leaving));
    } finally {
      await setPhase("ready", leaving, p2[2] as string);
      await setPhase("pending", before);
    }
  });
});

describe("refusals are 4xx problems with a reason, never a 500", () => {
  it("a limit outside 1..1000 (or not a number) is a 422 naming limit", async () => {
    for (const limit of ["0", "1001", "-5", "abc", "2.5"]) {
      const res = await get<Problem>(`/v1/subscriptions?limit=${limit}`);
      expect(res.status, limit).toBe(422);
      expect(JSON.stringify(res.body.detail), limit).toContain("limit");
    }
    expect((await get<Listed>("/v1/subscriptions?limit=1")).body.subscriptions).toHaveLength(1);
  });

  it("a garbled cursor, one made for another filter and one of another list are 422s that say which", async () => {
    const cursor = (await get<Listed>("/v1/subscriptions?phase=ready&limit=5")).body.nextCursor as string;
    const refused = async (path: string, reason: RegExp) => {
      const res = await get<Problem>(path);
      expect(res.status, path).toBe(422);
      expect(res.body.title, path).toMatch(reason);
    };
    await refused(`/v1/subscriptions?cursor=${cursor}`, /made for phase=ready, used with no filter/);
    await refused(`/v1/subscriptions?phase=failed&cursor=${cursor}`, /made for phase=ready, used with phase=failed/);
    await refused(`/v1/subscriptions?phase=ready&status=active&cursor=${cursor}`, /made for phase=ready, used with phase=ready&status=active/);
    await refused(`/v1/drift?cursor=${cursor}`, /a cursor of subscriptions, not of drift/);
    const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    for (const bad of ["x", "!!!", cursor.slice(0, -3), forged({ l: "subscriptions", k: "../etc", f: {} }), forged({ l: "billing runs", k: "x", f: {} }), forged([1])]) {
      const res = await get<Problem>(`/v1/subscriptions?cursor=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(422);
      expect(res.body.title, bad).toMatch(/^cursor refused: /);
    }
    await refused(`/v1/billing-runs?cursor=${forged({ l: "billing runs", k: "1; DROP", f: {} })}`, /not a cursor this service gave out/);
    await refused(`/v1/dead-letters?cursor=${forged({ l: "dead letters", k: { failedAt: "yesterday", job: "x" }, f: {} })}`, /not a cursor this service gave out/);
    expect((await get<Problem>(`/v1/subscriptions?phase=ready&cursor=${cursor}`)).status).toBe(200);
  });
});

describe("the other lists page the same way", () => {
  it("/v1/drift pages by subscription id and holds its state filter", async () => {
    for (const [i, id] of ids.entries()) {
      if (i % 2 === 0) await h.driftStore.record(id, i % 4 === 0 ? [] : [{ resource: "compute-quota", type: "openstack:compute/quotaSetV2:QuotaSetV2", change: "update", properties: ["cores"] }]);
    }
    type D = { subscriptionId: string; state: string };
    const all = await walk<D>("/v1/drift", "drift", "limit=40");
    expect(all.items.map((d) => d.subscriptionId)).toEqual(ids.filter((_, i) => i % 2 === 0));
    const drifted = await walk<D>("/v1/drift", "drift", "state=drifted&limit=10");
    expect(drifted.items.map((d) => d.subscriptionId)).toEqual(ids.filter((_, i) => i % 4 === 2));
    expect(new Set(drifted.items.map((d) => d.state))).toEqual(new Set(["drifted"]));
  });

  it("/v1/billing-runs pages newest first", async () => {
    for (let m = 1; m <= 25; m++) {
      await h.db.query(
        `INSERT INTO billing_runs (period, prices_version, currency, invoice_count, total, inputs) VALUES ($1, 'v1', 'EUR', 0, '0.00', '{}')`,
        [`2024-${String(((m - 1) % 12) + 1).padStart(2, "0")}-${m}`],
      );
    }
    const { pages, items } = await walk<{ id: number }>("/v1/billing-runs", "runs", "limit=10");
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(items.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));
  });

  it("/v1/dead-letters pages newest first, dead letters of the same instant included", async () => {
    for (const id of ids.slice(0, 30)) {
      await h.queue.deadLetter({ id: randomUUID(), subscription: id, retryCount: 0, retryLimit: 0, lane: "customer" }, `boom ${id}`);
    }
    // A burst: ten failed at the same instant (only the job id tells them apart).
    await h.db.query(`UPDATE jobs.job SET created_on = '2026-11-24T10:00:00.123456Z'::timestamptz
      WHERE name = 'reconcile-dead' AND data->>'subscription' = ANY($1::text[])`, [ids.slice(10, 20)]);
    const { pages, items } = await walk<{ subscription: string; failedAt: string }>("/v1/dead-letters", "deadLetters", "limit=4");
    expect(pages).toHaveLength(8);
    expect(items.map((d) => d.subscription).sort()).toEqual(ids.slice(0, 30));
    const times = items.map((d) => d.failedAt);
    expect(times).toEqual([...times].sort().reverse());
  });

  it("/v1/cloudesire/dead-letters pages newest first, dead and held calls only", async () => {
    for (const [i, id] of ids.slice(0, 40).entries()) {
      await h.db.query(`INSERT INTO cloudesire_outbox (subscription_id, lane, kind, body, state) VALUES ($1, 'lifecycle', 'status', $2, $3)`, [
        id, JSON.stringify({ kind: "status", deploymentStatus: "DEPLOYED" }), ["dead", "held", "sent", "pending"][i % 4],
      ]);
    }
    const { pages, items } = await walk<{ id: number; state: string }>("/v1/cloudesire/dead-letters", "deadLetters", "limit=6");
    expect(pages.map((p) => p.length)).toEqual([6, 6, 6, 2]);
    expect(new Set(items.map((c) => c.state))).toEqual(new Set(["dead", "held"]));
    expect(items.map((c) => c.id)).toEqual([...items.map((c) => c.id)].sort((a, b) => b - a));
  });
});
