import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { verifyWebhook } from "../../../src/domain/webhook-signature.js";
import { postRun, retryAfter } from "../../../src/metering/billing-delivery.js";
import { GnocchiClient } from "../../../src/metering/gnocchi-client.js";
import { DEFAULT_METERS } from "../../../src/domain/billing.js";
import { periodOf } from "../../../src/metering/period.js";
import { listen } from "../../support/local-server.js";

// Error paths a real Gnocchi or billing system cannot be made to produce on demand: a local stand-in.

describe("the Gnocchi client's failure handling", () => {
  it("retries 5xx with backoff, then reads the grouped aggregates (basic auth header sent)", async () => {
    let calls = 0;
    let auth = "";
    const app = new Hono().post("/v1/aggregates", (c) => {
      calls++;
      auth = c.req.header("authorization") ?? "";
      if (calls < 3) return c.text("overloaded", 503);
      return c.json([{ group: { project_id: "p1" }, measures: { measures: { aggregated: [["2026-10-01T00:00:00+00:00", 3600.0, 2.0]] } } }]);
    });
    const srv = await listen(app);
    try {
      const g = new GnocchiClient({ url: srv.url, auth: { kind: "basic", user: "admin" }, backoffMs: 1 });
      const usage = await g.usageByProject(DEFAULT_METERS.cores, periodOf("2026-10"), 3600);
      expect(usage.get("p1")).toEqual([["2026-10-01T00:00:00+00:00", 3600, 2]]);
      expect(calls).toBe(3);
      expect(auth).toBe(`Basic ${Buffer.from("admin:").toString("base64")}`);
    } finally {
      await srv.close();
    }
  });

  it("gives up after the cap with a clear error, and refuses a malformed body", async () => {
    const down = await listen(new Hono().post("/v1/aggregates", (c) => c.text("no", 503)));
    const odd = await listen(new Hono().post("/v1/aggregates", (c) => c.json([{ group: { project_id: "p" }, measures: { measures: { aggregated: [["x", "y"]] } } }])));
    try {
      const g = new GnocchiClient({ url: down.url, auth: { kind: "basic", user: "admin" }, backoffMs: 1, maxAttempts: 3 });
      await expect(g.usageByProject(DEFAULT_METERS.cores, periodOf("2026-10"), 3600)).rejects.toThrow(/answered 503/);
      expect(g.requests).toBe(3);
      const g2 = new GnocchiClient({ url: odd.url, auth: { kind: "basic", user: "admin" } });
      await expect(g2.usageByProject(DEFAULT_METERS.cores, periodOf("2026-10"), 3600)).rejects.toThrow(/unexpected body/);
    } finally {
      await down.close();
      await odd.close();
    }
  });
});

describe("delivering a billing run to the billing URL", () => {
  const secret = "billing-secret-0123456789";

  it("signs the body like our webhooks; a 5xx is tried again later, each wait doubling up to the cap, until the attempts run out", async () => {
    const seen: string[] = [];
    let calls = 0;
    const app = new Hono().post("/bills", async (c) => {
      calls++;
      const raw = await c.req.text();
      verifyWebhook({ secret, timestamp: c.req.header("x-timestamp"), signature: c.req.header("x-signature"), rawBody: raw, nowSeconds: Math.floor(Date.now() / 1000), windowSeconds: 300 });
      seen.push(raw);
      return calls === 1 ? c.text("busy", 503) : c.text("ok", 200);
    });
    const srv = await listen(app);
    const target = { url: `${srv.url}/bills`, secret, attempts: 4, backoffMs: 1000, maxBackoffMs: 3000 };
    try {
      expect(await postRun(target, { run: { id: 1 } }, "billing-run-1")).toEqual({ ok: false, final: false, error: "the billing URL answered 503" });
      expect(await postRun(target, { run: { id: 1 } }, "billing-run-1")).toEqual({ ok: true });
      expect(JSON.parse(seen[1] as string)).toEqual({ run: { id: 1 } });
      expect([1, 2, 3, 4].map((n) => retryAfter(target, n, false))).toEqual([1000, 2000, 3000, null]);
    } finally {
      await srv.close();
    }
  });

  it("a 4xx is final: no retry", async () => {
    const srv = await listen(new Hono().post("/bills", (c) => c.text("bad", 400)));
    const target = { url: `${srv.url}/bills`, secret, attempts: 4, backoffMs: 1 };
    try {
      expect(await postRun(target, {}, "billing-run-1")).toEqual({ ok: false, final: true, error: "the billing URL answered 400" });
      expect(retryAfter(target, 1, true)).toBeNull();
    } finally {
      await srv.close();
    }
  });
});
