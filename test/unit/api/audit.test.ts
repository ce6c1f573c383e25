import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signNotification } from "../../../src/marketplaces/cloudesire/signature.js";
import { event } from "../../support/events.js";
import { CLOUDESIRE_EVENT_SECRET, harness } from "../../support/harness.js";
import { addOperator, withToken } from "../../support/operators.js";

/**
 * One audit trail (issue 23): who did what to which subscription and how it ended, beside every event a
 * marketplace sent, in pages, without the pulumi CLI; and the stack history's message names the operator.
 */
let h: Awaited<ReturnType<typeof harness>>;
let alice: ReturnType<typeof withToken>;
let vera: ReturnType<typeof withToken>;

type Item = { id: string; at: string; actor: string; action: string; subscriptionId: string | null; result: string };
type AuditPage = { items: Item[]; nextCursor: string | null };

const notify = (body: unknown) => {
  const raw = JSON.stringify(body);
  return h.app.request("/v1/cloudesire/events", { method: "POST", body: raw, headers: { "content-type": "application/json", "cmw-event-signature": signNotification(CLOUDESIRE_EVENT_SECRET, raw) } });
};
const audit = async (query = ""): Promise<AuditPage> => {
  const res = await vera(`/v1/audit${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as AuditPage;
};

beforeAll(async () => {
  h = await harness();
  for (const id of ["42", "43"]) await h.send(event(id, "subscription.created"));
  await h.reconciler.idle();
  alice = withToken(h, await addOperator(h, "alice", "operator"));
  vera = withToken(h, await addOperator(h, "vera", "viewer"));
  expect((await notify({ entity: "Subscription", id: 4242, type: "MODIFIED", date: "2026-11-24T10:00:00Z" })).status).toBe(204);
  expect((await alice("/v1/subscriptions/42/retry", { method: "POST" })).status).toBe(202);
  await h.reconciler.idle();
  expect((await h.send(event("43", "subscription.cancelled"))).status).toBe(202);
  await h.reconciler.idle();
  // Refused: the subscription is cancelled.
  expect((await alice("/v1/subscriptions/43/rotate-password", { method: "POST" })).status).toBe(409);
  // Refused by the role check: not an action, not in the trail.
  expect((await vera("/v1/subscriptions/42/retry", { method: "POST" })).status).toBe(403);
});
afterAll(async () => {
  await h.close();
});

describe("audit trail", () => {
  it("names who did what to which subscription and how it ended, beside every marketplace event, newest first", async () => {
    const { items, nextCursor } = await audit();
    expect(nextCursor).toBeNull();
    const line = (i: Item) => `${i.actor} ${i.action} ${i.subscriptionId ?? "-"} ${i.result}`;
    expect(items.map(line)).toEqual([
      "operator:alice subscription.rotate-password 43 409 subscription 43 is cancelled: it has no password to rotate",
      expect.stringMatching(/^marketplace:generic subscription\.cancelled 43 ok$/),
      "operator:alice subscription.retry 42 ok",
      "marketplace:cloudesire Subscription MODIFIED 4242 ok",
      "operator:root operator.add - ok: vera added as viewer",
      "operator:root operator.add - ok: alice added as operator",
      expect.stringMatching(/^marketplace:generic subscription\.created 4[23] ok$/),
      expect.stringMatching(/^marketplace:generic subscription\.created 4[23] ok$/),
    ]);
    const ats = items.map((i) => i.at);
    expect([...ats].sort().reverse()).toEqual(ats);
    expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
  });

  it("the stack history's message names the operator who asked for the update", async () => {
    const history = (await (await vera("/v1/subscriptions/42/history")).json()) as { history: Array<{ message: string }> };
    expect(history.history[0]?.message).toMatch(/^operator retry by alice \(subscription 42, generation 2\)$/);
  });

  it("filters by subscription and by time", async () => {
    const of42 = await audit("?subscription=42");
    expect(of42.items.map((i) => i.action)).toEqual(["subscription.retry", "subscription.created"]);
    expect((await audit("?subscription=4242")).items.map((i) => i.actor)).toEqual(["marketplace:cloudesire"]);
    const all = (await audit()).items;
    const newest = all[0]?.at as string;
    expect((await audit(`?since=${encodeURIComponent(newest)}`)).items.map((i) => i.id)).toEqual(all.filter((i) => i.at >= newest).map((i) => i.id));
    expect((await audit("?since=2999-01-01T00:00:00Z")).items).toEqual([]);
    // An offset other than Z is an instant too.
    expect((await audit("?since=2000-01-01T01:00:00%2B01:00")).items).toHaveLength(all.length);
  });

  it("pages with a cursor: every item once, in the same order as one page", async () => {
    const all = (await audit()).items.map((i) => i.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: AuditPage = await audit(`?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(all);
  });

  it("refuses a forged cursor, one made for another filter, and a date that is not an instant, naming the field (422)", async () => {
    const first = await audit("?limit=1&subscription=42");
    const refusals: Array<[string, string]> = [
      ["?cursor=garbage!", "cursor"],
      [`?cursor=${Buffer.from(JSON.stringify({ l: "audit", k: { at: "x", src: "a", key: "1" }, f: {} })).toString("base64url")}`, "cursor"],
      [`?cursor=${Buffer.from(JSON.stringify({ l: "audit", k: { at: "2026-12-01T00:00:00Z", src: "z'; DROP TABLE audit; --", key: "1" }, f: {} })).toString("base64url")}`, "cursor"],
      [`?cursor=${first.nextCursor}`, "cursor"],
      ["?since=yesterday", "since"],
      ["?since=2026-13-01T00:00:00Z", "since"],
      ["?subscription=..%2F", "subscription"],
      ["?limit=0", "limit"],
    ];
    for (const [query, field] of refusals) {
      const res = await vera(`/v1/audit${query}`);
      expect(res.status, query).toBe(422);
      expect(JSON.stringify(await res.json()), query).toContain(`"path":"${field}"`);
    }
  });

  it("records operator management with who did it", async () => {
    const res = await h.asOperator("/v1/operators/vera", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect((await h.asOperator("/v1/operators/nobody", { method: "DELETE" })).status).toBe(404);
    const items = ((await (await h.asOperator("/v1/audit?limit=2")).json()) as AuditPage).items;
    expect(items.map((i) => `${i.actor} ${i.action} ${i.result}`)).toEqual(["operator:root operator.revoke 404 no operator named nobody", "operator:root operator.revoke ok: vera revoked"]);
  });
});
