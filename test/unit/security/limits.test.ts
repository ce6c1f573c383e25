import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";

describe("limits", () => {
  it("webhooks are rate limited per source: 429 with Retry-After, other sources unaffected, nothing stored", async () => {
    let t = 1_795_000_000_000;
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
