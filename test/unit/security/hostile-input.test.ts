import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signNotification } from "../../../src/marketplaces/cloudesire/signature.js";
import { event } from "../../support/events.js";
import { CLOUDESIRE_EVENT_SECRET, harness } from "../../support/harness.js";

/**
 * What the third review sent, correctly signed or authenticated: input PostgreSQL cannot store, a
 * document nested past any stack, a forged cursor of a year that does not exist. Each is a 4xx that
 * names what to fix, never a 500 that the marketplace retries for ever.
 */
let h: Awaited<ReturnType<typeof harness>>;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

type Problem = { status: number; title: string; detail?: Array<{ path: string; message: string }> };
const stored = async (table: string) => Number((await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]?.n);

const notify = (raw: string) =>
  h.app.request("/v1/cloudesire/events", {
    method: "POST", body: raw,
    headers: { "content-type": "application/json", "cmw-event-signature": signNotification(CLOUDESIRE_EVENT_SECRET, raw) },
  });

describe("signed input the database cannot keep", () => {
  it.each([
    ["a NUL", "Evil\u0000Ltd", /NUL/],
    ["a lone surrogate", "Evil\ud800Ltd", /lone UTF-16 surrogate/],
  ])("a customer name with %s is a 422 naming the field, and nothing is stored", async (_what, name, why) => {
    const e = event("77", "subscription.created");
    e.subscription.customer.name = name;
    const res = await h.send(e);
    expect(res.status).toBe(422);
    const p = (await res.json()) as Problem;
    expect(p.detail).toEqual([{ path: "subscription.customer.name", message: expect.stringMatching(why) }]);
    expect(await stored("events")).toBe(0);
  });

  it("an event dated in the year 0000 is a 422 naming occurredAt", async () => {
    const res = await h.send(event("78", "subscription.created", { at: "0000-01-01T00:00:00Z" }));
    expect(res.status).toBe(422);
    expect(((await res.json()) as Problem).detail?.map((d) => d.path)).toEqual(["occurredAt"]);
  });

  it.each([
    ["a NUL in its type", { entity: "Subscription", id: 4242, type: "CREATED\u0000" }, "type"],
    ["a lone surrogate in its metadata", { entity: "Subscription", id: 4242, type: "CREATED", metadata: { note: ["ok", "\udc00"] } }, "metadata.note.1"],
    ["a NUL in a metadata key", { entity: "Subscription", id: 4242, type: "CREATED", metadata: { "a\u0000b": 1 } }, "metadata.a\u0000b"],
  ])("a Cloudesire notification with %s is a 422 naming the field, and nothing is stored", async (_what, body, path) => {
    const res = await notify(JSON.stringify(body));
    expect(res.status).toBe(422);
    expect(((await res.json()) as Problem).detail?.map((d) => d.path)).toEqual([path]);
    expect(await stored("cloudesire_notifications")).toBe(0);
  });

  it("a Cloudesire notification whose metadata nests 20,000 levels deep is a 422, not a stack overflow", async () => {
    const deep = `{"entity":"Subscription","id":4242,"type":"CREATED","metadata":{"m":${"[".repeat(20_000)}${"]".repeat(20_000)}}}`;
    const res = await notify(deep);
    expect(res.status).toBe(422);
    expect(((await res.json()) as Problem).detail?.[0]?.message).toMatch(/nested deeper than 32 levels/);
    expect(await stored("cloudesire_notifications")).toBe(0);
  });
});

describe("forged cursors", () => {
  it("a dead-letter cursor dated in the year 0000 is refused with a 422, not a 500", async () => {
    const key = { failedAt: "0000-01-01T00:00:00.000000Z", job: "00000000-0000-4000-8000-000000000000" };
    const cursor = Buffer.from(JSON.stringify({ l: "dead letters", k: key, f: {} })).toString("base64url");
    const res = await h.asOperator(`/v1/dead-letters?cursor=${cursor}`);
    expect(res.status).toBe(422);
    expect(((await res.json()) as Problem).title).toMatch(/^cursor refused/);
  });
});
