import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { openDb } from "../../../src/store/db.js";
import { migrate } from "../../../src/store/migrations.js";
import { until } from "../../support/cloudesire-scene.js";
import { event } from "../../support/events.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { harness } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { PRICES } from "../../support/prices.js";

const SECRET = "billing-secret-0123456789abcdef";
type Run = { id: number; delivery: { status: string; attempts: number; error: string | null; nextAt: string | null } | null };

/** The billing system: down (503) until told otherwise; keeps one copy per Idempotency-Key. */
async function receiver() {
  const state = { up: false, attempts: 0, kept: new Map<string, unknown>() };
  const srv = await listen(
    new Hono().post("/runs", async (c) => {
      state.attempts++;
      if (!state.up) return c.text("down for maintenance", 503);
      const key = c.req.header("idempotency-key") ?? "";
      if (!state.kept.has(key)) state.kept.set(key, await c.req.json());
      return c.text("ok");
    }),
  );
  return { srv, state };
}

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const bill = async (h: Awaited<ReturnType<typeof harness>>) => {
  const res = await h.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ period: "2026-10" }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { run: Run }).run;
};
const runOf = async (h: Awaited<ReturnType<typeof harness>>, id: number) => ((await (await h.asOperator(`/v1/billing-runs/${id}`)).json()) as { run: Run }).run;

describe("billing deliveries are durable jobs", () => {
  it("a delivery that failed before a restart is delivered after it, once, from the same data directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deliveries-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = await receiver();
    cleanup.push(() => r.srv.close());
    const billing = { gnocchi: () => constantGnocchi({ "project-of-sub-91": 2 }), prices: PRICES, delivery: { url: `${r.srv.url}/runs`, secret: SECRET, attempts: 5, backoffMs: 300 } };

    // First life: the receiver is down; the run's first attempt fails, and the process stops.
    const first = await openDb({ dataDir: dir });
    await migrate(first.db);
    const a = await harness({ replicaOf: { db: first.db, pollMs: 60_000 }, billing });
    expect((await a.send(event("91", "subscription.created", { at: "2026-10-01T00:00:00Z", plan: { model: "payg" } }))).status).toBe(202);
    await a.reconciler.idle();
    const run = await bill(a);
    expect(run.delivery).toMatchObject({ status: "waiting", attempts: 1, error: "the billing URL answered 503" });
    await a.close();
    await first.db.close();
    expect(r.state.kept.size).toBe(0);

    // The receiver is back; the service starts again on the same data directory and delivers the run.
    r.state.up = true;
    const second = await openDb({ dataDir: dir });
    cleanup.push(() => second.db.close());
    const b = await harness({ replicaOf: { db: second.db, pollMs: 60_000 }, billing });
    cleanup.push(() => b.close());
    await until(async () => (await runOf(b, run.id)).delivery?.status === "delivered", "the delivery after the restart");
    expect((await runOf(b, run.id)).delivery).toMatchObject({ status: "delivered", error: null, nextAt: null });
    expect([...r.state.kept.keys()]).toEqual([`billing-run-${run.id}`]);
    expect(r.state.kept.get(`billing-run-${run.id}`)).toMatchObject({ run: { id: run.id, period: "2026-10" }, invoices: [{ subscriptionId: "91", version: 1 }] });
  });

  it("a delivery whose attempts run out is dead: shown on the run and in the metrics, until an operator redelivers it", async () => {
    const r = await receiver();
    cleanup.push(() => r.srv.close());
    const h = await harness({ billing: { gnocchi: () => constantGnocchi({}), prices: PRICES, delivery: { url: `${r.srv.url}/runs`, secret: SECRET, attempts: 2, backoffMs: 1 } } });
    cleanup.push(() => h.close());
    const run = await bill(h);
    await until(async () => (await runOf(h, run.id)).delivery?.status === "failed", "the dead delivery");
    expect((await runOf(h, run.id)).delivery).toMatchObject({ status: "failed", attempts: 2, error: "the billing URL answered 503", nextAt: null });
    expect(r.state.attempts).toBe(2);
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(/^tenants_billing_deliveries\{state="dead"\} 1$/m);
    expect(metrics).toMatch(/^tenants_billing_deliveries\{state="waiting"\} 0$/m);

    r.state.up = true;
    const res = await h.asOperator(`/v1/billing-runs/${run.id}/deliver`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ run: run.id, delivery: { status: "delivered", attempts: 1 } });
    expect(r.state.kept.size).toBe(1);
    expect(await (await h.app.request("/metrics")).text()).toMatch(/^tenants_billing_deliveries\{state="dead"\} 0$/m);
  });
});
