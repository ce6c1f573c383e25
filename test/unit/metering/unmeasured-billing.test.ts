import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { unavailable } from "../../../src/domain/errors.js";
import { GnocchiClient } from "../../../src/metering/gnocchi-client.js";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { PRICES } from "../../support/prices.js";

const OCTOBER = "2026-10-05T10:00:00Z";

/**
 * A newcomer sold pay-as-you-go before the service could provision (phase waiting: no project yet) and
 * billed October with no Gnocchi: the run must fail and leave October unbilled, not close it for good on
 * invoices nobody measured.
 */
describe("billing runs that cannot measure usage", () => {
  it.each([
    ["Gnocchi unset", () => { throw unavailable("billing needs Gnocchi: no OpenStack admin credentials"); }, 503, /no OpenStack admin credentials/],
    ["Gnocchi unreachable", () => new GnocchiClient({ url: "http://127.0.0.1:9", auth: { kind: "basic", user: "admin" }, maxAttempts: 1 }), 503, /did not answer/],
  ] as const)("%s: the run fails with the reason and the period stays unbilled", async (_name, gnocchi, status, reason) => {
    let measured = gnocchi as () => GnocchiClient;
    const h = await harness({ readiness: () => ["the pulumi CLI is not on PATH"], billing: { gnocchi: () => measured(), prices: PRICES } });
    expect((await h.send(event("71", "subscription.created", { at: OCTOBER, plan: { model: "payg" } }))).status).toBe(202);
    await h.reconciler.idle();
    const bill = () => h.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ period: "2026-10" }) });
    const refused = await bill();
    expect(refused.status).toBe(status);
    expect(((await refused.json()) as { title: string }).title).toMatch(reason);
    expect(await h.db.query("SELECT id FROM billing_runs")).toEqual([]);

    // Once Gnocchi answers (here: no usage at all, the project never existed) the same period is billed.
    const g = await listen(new Hono().post("/v1/aggregates", (c) => c.json([])));
    try {
      measured = () => new GnocchiClient({ url: g.url, auth: { kind: "basic", user: "admin" } });
      const billed = await bill();
      expect(billed.status).toBe(201);
      expect(await billed.json()).toMatchObject({ created: true, run: { period: "2026-10", invoiceCount: 1, total: "0.00" } });
    } finally {
      await g.close();
      await h.close();
    }
  });

  it("Gnocchi refusing (403) fails the run as an upstream failure; nothing is stored", async () => {
    const g = await listen(new Hono().post("/v1/aggregates", (c) => c.json({ error: "forbidden" }, 403)));
    const h = await harness({ billing: { gnocchi: () => new GnocchiClient({ url: g.url, auth: { kind: "basic", user: "admin" } }), prices: PRICES } });
    try {
      await h.send(event("72", "subscription.created", { at: OCTOBER, plan: { model: "payg" } }));
      await h.reconciler.idle();
      const res = await h.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ period: "2026-10" }) });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { title: string }).title).toMatch(/^billing of 2026-10 not stored, the period stays unbilled .*Gnocchi answered 403/);
      expect(await h.db.query("SELECT id FROM billing_runs")).toEqual([]);
    } finally {
      await g.close();
      await h.close();
    }
  });
});
