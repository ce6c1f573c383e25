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
});
