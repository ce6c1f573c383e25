import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { signWebhook } from "../../../src/domain/webhook-signature.js";
import { harness, WEBHOOK_SECRET } from "../../support/harness.js";

let h: Awaited<ReturnType<typeof harness>>;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.reconciler.stop();
  await h.close();
});

const countEvents = async () => Number((await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM events"))[0]?.n);

describe("POST /v1/events", () => {
  it("a signed created event is stored before 202 and hands back a credentials token", async () => {
    const res = await h.send(event("42", "subscription.created"));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { status: string; credentialsToken: string; subscription: { id: string; phase: string } };
    expect(body.status).toBe("accepted");
    expect(body.credentialsToken).toMatch(/^ct_/);
    expect(body.subscription).toMatchObject({ id: "42", phase: "pending" });
    expect(await countEvents()).toBe(1);
    expect((await h.store.get("42"))?.desired.status).toBe("active");
  });

  it("a duplicate event id is acknowledged with 200 and applied once", async () => {
    const e = event("42", "subscription.created");
    expect((await h.send(e)).status).toBe(202);
    for (let i = 0; i < 9; i++) {
      const res = await h.send(e);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: "duplicate" });
    }
    await h.reconciler.idle();
    expect(h.engine.calls.filter((c) => c.op === "up")).toHaveLength(1);
    expect(await countEvents()).toBe(1);
  });

  it("the same event delivered ×10 at once: one 202, nine 200s, exactly one engine operation", async () => {
    const e = event("43", "subscription.created");
    const statuses = (await Promise.all(Array.from({ length: 10 }, () => h.send(e)))).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    await h.reconciler.idle();
    expect(h.engine.callsFor("sub-43")).toHaveLength(1);
  });

  it.each([
    ["no signature", { signature: null }],
    ["a signature made with another secret", { secret: "another-secret-0123456789" }],
    ["a malformed signature", { signature: "sha256=zz" }],
    // Read when the request is made (not when the file is loaded: a slow run would bring "ahead" into the window).
    ["a timestamp 6 minutes old", { get timestamp() { return Math.floor(Date.now() / 1000) - 360; } }],
    ["a timestamp 6 minutes ahead", { get timestamp() { return Math.floor(Date.now() / 1000) + 360; } }],
  ])("%s → 401 and nothing stored", async (_name, o) => {
    const res = await h.send(event("42", "subscription.created"), o);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { title: string }).title).toBeTruthy();
    expect(await countEvents()).toBe(0);
  });

  it("a refused signature says the format expected: sha256=<hex> of the timestamp and the raw body", async () => {
    for (const o of [{ signature: "deadbeef" }, { signature: null }, { secret: "another-secret-0123456789" }]) {
      const res = await h.send(event("42", "subscription.created"), o);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { title: string }).title).toContain('sha256=<64 lowercase hex digits of HMAC-SHA256(secret, "<X-Timestamp>.<raw body>")>');
    }
  });

  it("a body that is not JSON by its Content-Type is a 415 that says application/json is expected", async () => {
    const raw = JSON.stringify(event("42", "subscription.created"));
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await h.app.request("/v1/events", {
      method: "POST", body: raw, headers: { "content-type": "text/plain", "x-timestamp": ts, "x-signature": signWebhook(WEBHOOK_SECRET, ts, raw) },
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { title: string }).title).toBe("unsupported Content-Type 'text/plain': send the body as application/json");
    expect(await countEvents()).toBe(0);
  });

  it("a body signed for one timestamp is refused with another (the timestamp is signed)", async () => {
    const raw = JSON.stringify(event("42", "subscription.created"));
    const { signWebhook } = await import("../../../src/domain/webhook-signature.js");
    const ts = Math.floor(Date.now() / 1000);
    const res = await h.send(null, { raw, timestamp: ts, signature: signWebhook(WEBHOOK_SECRET, String(ts - 1), raw) });
    expect(res.status).toBe(401);
  });

  it("invalid JSON → 400; a body that breaks the schema → 422 with the zod issues; nothing stored", async () => {
    expect((await h.send(null, { raw: "{not json" })).status).toBe(400);
    const bad = { ...event("42", "subscription.created"), type: "subscription.exploded" };
    const res = await h.send(bad);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { detail: Array<{ path: string }> };
    expect(body.detail.map((d) => d.path)).toContain("type");
    expect(await countEvents()).toBe(0);
  });

  it("an unsafe subscription id is a 422, never a stack", async () => {
    const res = await h.send(event("../../etc", "subscription.created"));
    expect(res.status).toBe(422);
    expect(h.engine.calls).toHaveLength(0);
  });

  it("a plan above the operator's limits → 422 with the reason", async () => {
    const res = await h.send(event("42", "subscription.created", { plan: { model: "prepaid", cores: 1000, ramGb: 1, diskGb: 1, floatingIps: 0 } }));
    expect(res.status).toBe(422);
    expect(JSON.stringify(await res.json())).toContain("cores 1000 exceeds the maximum of 64");
  });

  it("a body over 64 KiB → 413", async () => {
    const e = event("42", "subscription.created");
    const raw = JSON.stringify({ ...e, padding: "x".repeat(70_000) });
    expect((await h.send(null, { raw })).status).toBe(413);
  });

  it("a resume after cancellation → 409 with the reason; a stale event → 200 'stale'", async () => {
    expect((await h.send(event("42", "subscription.created", { at: "2026-11-01T00:00:00Z" }))).status).toBe(202);
    expect((await h.send(event("42", "subscription.cancelled", { at: "2026-11-02T00:00:00Z" }))).status).toBe(202);
    const resumed = await h.send(event("42", "subscription.resumed", { at: "2026-11-03T00:00:00Z" }));
    expect(resumed.status).toBe(409);
    expect(((await resumed.json()) as { title: string }).title).toMatch(/cancelled/);
    const late = await h.send(event("42", "subscription.modified", { at: "2026-11-01T12:00:00Z" }));
    expect(late.status).toBe(200);
    expect(await late.json()).toMatchObject({ status: "stale" });
    expect((await h.store.get("42"))?.desired.status).toBe("cancelled");
  });

  /** POSTs these exact bytes as a webhook, signed over `signedOver` (the bytes themselves by default). */
  const sendBytes = (bytes: Buffer, signedOver: string | Buffer = bytes) => {
    const ts = String(Math.floor(Date.now() / 1000));
    return h.app.request("/v1/events", {
      method: "POST", body: new Uint8Array(bytes),
      headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(WEBHOOK_SECRET, ts, signedOver) },
    });
  };

  it("the signature covers the bytes received: a byte order mark in front of the signed text is refused (401)", async () => {
    const text = JSON.stringify(event("42", "subscription.created"));
    // Decoding as text drops a leading BOM (WHATWG "UTF-8 decode"), so these bytes and the text signed differ but decode the same.
    const res = await sendBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), text);
    expect(res.status).toBe(401);
    expect(await countEvents()).toBe(0);
  });

  it("invalid UTF-8 signed as the text it decodes to (U+FFFD) is refused (401): nothing but the exact bytes verifies", async () => {
    const raw = Buffer.from(JSON.stringify(event("42", "subscription.created")).replace("Example Ltd", "Example @Ltd"));
    raw[raw.indexOf("@")] = 0xff; // a byte that is never valid UTF-8
    const res = await sendBytes(raw, raw.toString("utf8"));
    expect(res.status).toBe(401);
    expect(await countEvents()).toBe(0);
  });

  it("a body that is not valid UTF-8 is a 400, even signed over its exact bytes", async () => {
    const raw = Buffer.from(JSON.stringify(event("42", "subscription.created")).replace("Example Ltd", "Example @Ltd"));
    raw[raw.indexOf("@")] = 0xc3; // a lead byte with no continuation
    const res = await sendBytes(raw);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { title: string }).title).toMatch(/UTF-8/);
    expect(await countEvents()).toBe(0);
  });

  it("an event dated beyond the replay window into the future is refused (422), so it cannot make every later event stale", async () => {
    const future = await h.send(event("42", "subscription.created", { at: "9999-12-31T00:00:00Z" }));
    expect(future.status).toBe(422);
    expect(((await future.json()) as { title: string }).title).toMatch(/future/);
    expect(await countEvents()).toBe(0);
    // Within the window (clocks a little ahead) is accepted.
    const soon = new Date(Date.now() + 60_000).toISOString();
    expect((await h.send(event("43", "subscription.created", { at: soon }))).status).toBe(202);
  });

  it("during a secret rotation a webhook signed with WEBHOOK_SECRET_PREVIOUS is accepted, and refused once it is removed", async () => {
    const previous = "whsec-previous-0123456789abcdef";
    const rotating = await harness({ previousWebhookSecret: previous });
    expect((await rotating.send(event("42", "subscription.created"), { secret: previous })).status).toBe(202);
    expect((await rotating.send(event("43", "subscription.created"))).status).toBe(202);
    expect(rotating.logs.some((l) => /"signedWith":"previous"/.test(l))).toBe(true);
    await rotating.reconciler.idle();
    await rotating.close();
    const rotated = await harness();
    expect((await rotated.send(event("44", "subscription.created"), { secret: previous })).status).toBe(401);
    await rotated.close();
  });

  it("without a configured webhook secret, webhooks are refused with 503 and a reason", async () => {
    const { createApp } = await import("../../../src/api/app.js");
    const app = createApp({
      store: h.store, intake: h.intake, engine: h.engine, reconciler: h.reconciler, queue: h.queue, settings: (await import("../../support/settings.js")).SETTINGS,
      log: { debug() {}, info() {}, warn() {}, error() {} }, webhookSecret: undefined, replayWindowSeconds: 300,
      operatorToken: "x".repeat(20), operators: h.operators, audit: h.audit, customerTokenKey: "k".repeat(32), health: async () => ({ status: "degraded" }),
    });
    const res = await app.request("/v1/events", { method: "POST", body: "{}" });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { title: string }).title).toContain("WEBHOOK_SECRET");
  });
});
