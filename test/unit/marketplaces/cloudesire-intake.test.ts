import { afterEach, describe, expect, it } from "vitest";
import { signNotification } from "../../../src/marketplaces/cloudesire/signature.js";
import { CLOUDESIRE_EVENT_SECRET, harness } from "../../support/harness.js";

/**
 * Cloudesire's notifications carry no timestamp (docs/event-notification.md), so a captured one stays
 * valid for ever: what bounds a replay is that identical ones are kept once, the route is rate limited
 * per source, and failed signatures count against the source like any failed authentication.
 */
let h: Awaited<ReturnType<typeof harness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const NOTIFICATION = JSON.stringify({ entity: "Subscription", id: 4242, type: "MODIFIED", date: "2026-11-24T10:00:00Z", metadata: { note: "x".repeat(2000) } });
const notify = (raw: string, o: { source?: string; signature?: string } = {}) =>
  h!.app.request("/v1/cloudesire/events", {
    method: "POST", body: raw,
    headers: {
      "content-type": "application/json", "cmw-event-signature": o.signature ?? signNotification(CLOUDESIRE_EVENT_SECRET, raw),
      ...(o.source ? { "x-test-source": o.source } : {}),
    },
  });

describe("Cloudesire notifications at the door", () => {
  it("a captured notification replayed 200 times is stored once, with the replays counted", async () => {
    h = await harness();
    for (let i = 0; i < 200; i++) expect((await notify(NOTIFICATION)).status).toBe(204);
    // The same JSON spaced and ordered otherwise is the same notification.
    const reordered = JSON.stringify(JSON.parse(NOTIFICATION), null, 1);
    expect((await notify(reordered)).status).toBe(204);
    const rows = await h.db.query<{ repeats: number }>("SELECT repeats FROM cloudesire_notifications");
    expect(rows).toEqual([{ repeats: 200 }]);
    // One read is asked for (none is done here: no Cloudesire API); the replays add none while it waits.
    expect(await h.cloudesire.store.get("4242")).toMatchObject({ wanted: 1, synced: 0 });
    // A different notification is its own row.
    expect((await notify(JSON.stringify({ entity: "Subscription", id: 4242, type: "DELETED" }))).status).toBe(204);
    expect(await h.db.query("SELECT type FROM cloudesire_notifications ORDER BY id")).toEqual([{ type: "MODIFIED" }, { type: "DELETED" }]);
  });

  it("notifications are rate limited per source after the signature: 429 with Retry-After, other sources unaffected", async () => {
    const t = Date.UTC(2026, 11, 1);
    h = await harness({ webhookRateLimit: { perSecond: 1, burst: 3 }, now: () => t });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await notify(NOTIFICATION, { source: "10.0.0.1" })).status);
    expect(statuses).toEqual([204, 204, 204, 429, 429]);
    expect((await notify(NOTIFICATION, { source: "10.0.0.1" })).headers.get("retry-after")).toBe("1");
    expect((await notify(NOTIFICATION, { source: "10.0.0.2" })).status).toBe(204);
  });

  it("failed signatures count against their source's failed authentications; Cloudesire's signed ones still get in", async () => {
    h = await harness({ authFailureLimit: { perSecond: 0.1, burst: 3 }, now: () => Date.UTC(2026, 11, 1) });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await notify(NOTIFICATION, { source: "10.0.0.9", signature: `sha1=${"0".repeat(40)}` })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // The operator token from that source waits too: it is one budget of failed authentications.
    expect((await h.app.request("/v1/subscriptions", { headers: { authorization: "Bearer op-token-0123456789abcdef", "x-test-source": "10.0.0.9" } })).status).toBe(429);
    expect((await notify(NOTIFICATION, { source: "10.0.0.9" })).status).toBe(204);
  });
});
