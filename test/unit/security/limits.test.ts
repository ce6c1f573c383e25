import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { signWebhook } from "../../../src/domain/webhook-signature.js";
import { harness, OPERATOR_TOKEN, WEBHOOK_SECRET } from "../../support/harness.js";

describe("limits", () => {
  it("webhooks are rate limited per source: 429 with Retry-After, other sources unaffected, nothing stored", async () => {
    let t = Date.UTC(2026, 11, 1) /* after the events' occurredAt */;
    const h = await harness({ webhookRateLimit: { perSecond: 1, burst: 3 }, now: () => t });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await h.send(event(`rl${i}`, "subscription.created"), { source: "10.0.0.1", timestamp: Math.floor(t / 1000) })).status);
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    const limited = await h.send(event("rl9", "subscription.created"), { source: "10.0.0.1", timestamp: Math.floor(t / 1000) });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
    expect(await h.store.get("rl9")).toBeNull();
    expect((await h.send(event("other", "subscription.created"), { source: "10.0.0.2", timestamp: Math.floor(t / 1000) })).status).toBe(202);
    t += 2000; // two seconds later, two more tokens
    expect((await h.send(event("rl10", "subscription.created"), { source: "10.0.0.1", timestamp: Math.floor(t / 1000) })).status).toBe(202);
    expect((await (await h.app.request("/metrics")).text())).toMatch(/^tenants_events_refused_total\{reason="rate_limited"\} 3$/m);
    await h.reconciler.idle();
  });

  it("unsigned junk from a source never spends the budget of its signed webhooks", async () => {
    const t = Date.UTC(2026, 11, 1) /* after the events' occurredAt */;
    const h = await harness({ webhookRateLimit: { perSecond: 1, burst: 3 }, now: () => t });
    for (let i = 0; i < 10; i++) {
      const junk = await h.send(event(`junk${i}`, "subscription.created"), { source: "10.0.0.1", signature: "sha256=00", timestamp: Math.floor(t / 1000) });
      expect([401, 429]).toContain(junk.status);
    }
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.send(event(`ok${i}`, "subscription.created"), { source: "10.0.0.1", timestamp: Math.floor(t / 1000) })).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    await h.reconciler.idle();
  });

  it("failed operator authentications are throttled per source (429, Retry-After); the operator elsewhere still gets in", async () => {
    let t = Date.UTC(2026, 11, 1) /* after the events' occurredAt */;
    const h = await harness({ authFailureLimit: { perSecond: 0.1, burst: 5 }, now: () => t });
    const from = (source: string, token: string) => h.app.request("/v1/subscriptions", { headers: { authorization: `Bearer ${token}`, "x-test-source": source } });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await from("10.0.0.9", `guess-${i}-0123456789abcdef`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    // Throttled means throttled: the right token from that source waits too (a guess that succeeds is not told so).
    const blocked = await from("10.0.0.9", OPERATOR_TOKEN);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await from("10.0.0.10", OPERATOR_TOKEN)).status).toBe(200);
    // Successes cost nothing: the operator elsewhere is never throttled.
    for (let i = 0; i < 20; i++) expect((await from("10.0.0.10", OPERATOR_TOKEN)).status).toBe(200);
    t += Number(blocked.headers.get("retry-after")) * 1000;
    expect((await from("10.0.0.9", OPERATOR_TOKEN)).status).toBe(200);
  });

  it("failed customer tokens are throttled per source the same way", async () => {
    const t = Date.UTC(2026, 11, 1) /* after the events' occurredAt */;
    const h = await harness({ authFailureLimit: { perSecond: 0.1, burst: 3 }, now: () => t });
    const created = (await (await h.send(event("42", "subscription.created"), { timestamp: Math.floor(t / 1000) })).json()) as { credentialsToken: string };
    await h.reconciler.idle();
    const from = (source: string, token: string) => h.app.request("/v1/subscriptions/42/credentials", { headers: { authorization: `Bearer ${token}`, "x-test-source": source } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await from("10.0.0.9", `ct_guess${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect((await from("10.0.0.9", created.credentialsToken)).status).toBe(429);
    expect((await from("10.0.0.10", created.credentialsToken)).status).toBe(200);
  });

  it("behind a trusted proxy each client has its own bucket; without TRUST_PROXY, X-Forwarded-For is not believed", async () => {
    const post = async (url: string, forwardedFor: string, id: string) => {
      const raw = JSON.stringify(event(id, "subscription.created"));
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await fetch(`${url}/v1/events`, {
        method: "POST", body: raw,
        headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(WEBHOOK_SECRET, ts, raw), "x-forwarded-for": forwardedFor },
      });
      return res.status;
    };
    for (const [trustProxy, expected] of [[{ kind: "hops", hops: 1 }, [202, 202, 429, 202]], [undefined, [202, 202, 429, 429]]] as const) {
      const h = await harness({ webhookRateLimit: { perSecond: 0.001, burst: 2 }, trustProxy: trustProxy ?? { kind: "off" } });
      const server = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" });
      await new Promise((r) => server.once("listening", r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        // A client may put anything in the header; the proxy appends the address it saw, which is what counts.
        const statuses = [await post(url, "203.0.113.7", "a1"), await post(url, "6.6.6.6, 203.0.113.7", "a2"), await post(url, "203.0.113.7", "a3"), await post(url, "198.51.100.2", "b1")];
        expect(statuses, `TRUST_PROXY ${JSON.stringify(trustProxy)}`).toEqual(expected);
      } finally {
        server.close();
        await h.reconciler.idle();
      }
    }
  });

  it("every route bounds its body: 1 MiB anywhere (413), 64 KiB on the webhook", async () => {
    const h = await harness();
    const big = "x".repeat(1024 * 1024 + 1);
    const res = await h.asOperator("/v1/billing-runs", { method: "POST", body: big, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  it("over real HTTP the bound holds whether the size is declared (Content-Length) or streamed (chunked)", async () => {
    const h = await harness();
    const server = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((r) => server.once("listening", r));
    const { port } = server.address() as AddressInfo;
    const post = (path: string, chunks: string[], declared: boolean) =>
      new Promise<number>((resolve, reject) => {
        const size = chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);
        const req = request({ host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": "application/json", ...(declared ? { "content-length": size } : {}) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" || e.code === "EPIPE" ? undefined : reject(e)));
        for (const c of chunks) req.write(c);
        req.end();
      });
    try {
      const over = Array.from({ length: 65 }, () => "x".repeat(1024));
      expect(await post("/v1/events", over, true)).toBe(413);
      expect(await post("/v1/events", over, false)).toBe(413);
      const overMiB = Array.from({ length: 1025 }, () => "x".repeat(1024));
      expect(await post("/v1/billing-runs", overMiB, true)).toBe(413);
      expect(await post("/v1/billing-runs", overMiB, false)).toBe(413);
      // Under the bound the request goes on to what comes next (here: the missing signature).
      expect(await post("/v1/events", ["{}"], true)).toBe(401);
      expect(await post("/v1/events", ["{}"], false)).toBe(401);
    } finally {
      server.close();
    }
  });
});
