import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hono } from "hono";
import { verifyWebhook } from "../../src/domain/webhook-signature.js";
import { DEFAULT_METERS } from "../../src/domain/billing.js";
import { listen } from "../support/local-server.js";
import { event, PREPAID } from "../support/events.js";
import { adminGnocchi, GnocchiSeeder, hours } from "../support/gnocchi-seed.js";
import { harnessWith } from "../support/harness.js";
import { RecordingEngine } from "../support/recording-engine.js";
import { PRICES } from "../support/prices.js";
import { TWO_TARGETS } from "../support/settings.js";

/** BILLING_WEBHOOK_SECRET: the billing receiver never holds the marketplace's WEBHOOK_SECRET. */
const BILLING_SECRET = "billing-secret-0123456789abcdef";
const run = Date.now().toString(36);
const P1 = `pay${run}`; // PAYG all month
const P2 = `sw${run}`; // prepaid, switched to PAYG on Oct 11, cancelled Oct 21 12:30; in target `two`
const P3 = `pre${run}`; // prepaid all month: never billed from usage
const project = (id: string) => `project-of-sub-${id}`; // the engine double's project ids

let h: Awaited<ReturnType<typeof harnessWith<RecordingEngine>>>;
let gnocchiRequests = 0;
const received: Array<{ body: unknown; valid: boolean }> = [];
let receiver: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  // The billing system: accepts runs whose signature verifies.
  receiver = await listen(
    new Hono().post("/runs", async (c) => {
      const raw = await c.req.text();
      let valid = true;
      try {
        verifyWebhook({ secret: BILLING_SECRET, timestamp: c.req.header("x-timestamp"), signature: c.req.header("x-signature"), rawBody: raw, nowSeconds: Math.floor(Date.now() / 1000), windowSeconds: 300 });
      } catch {
        valid = false;
      }
      received.push({ body: JSON.parse(raw), valid });
      return c.text("ok");
    }),
  );
  // Billing runs read Gnocchi through a counting client: requests per run are part of the contract.
  // Sold in two targets (`one`, the default, and `two`); the test cloud's one Gnocchi measures both regions.
  h = await harnessWith(new RecordingEngine(), {
    settings: TWO_TARGETS,
    billing: {
      prices: PRICES,
      delivery: { url: `${receiver.url}/runs`, secret: BILLING_SECRET, attempts: 3, backoffMs: 10 },
      gnocchi: () => {
        const g = adminGnocchi();
        const original = g.usageByProject.bind(g);
        g.usageByProject = async (...args) => {
          gnocchiRequests++;
          return original(...args);
        };
        return g;
      },
    },
  });

  const send = async (e: ReturnType<typeof event>) => expect((await h.send(e)).status).toBe(202);
  await send(event(P1, "subscription.created", { at: "2026-09-15T00:00:00Z", plan: { model: "payg" } }));
  await send(event(P2, "subscription.created", { at: "2026-10-01T00:00:00Z", plan: { ...PREPAID, target: "two" } }));
  await send(event(P3, "subscription.created", { at: "2026-09-01T00:00:00Z", plan: PREPAID }));
  await h.reconciler.idle();
  await send(event(P2, "subscription.modified", { at: "2026-10-11T00:00:00Z", plan: { model: "payg", target: "two" } }));
  await h.reconciler.idle();
  await send(event(P2, "subscription.cancelled", { at: "2026-10-21T12:30:00Z", plan: { model: "payg", target: "two" } }));
  await h.reconciler.idle();

  // Usage as Ceilometer would report it, hourly, from Sept 30 to Nov 2 (outside hours must be clipped).
  const seed = new GnocchiSeeder();
  await seed.prepare(DEFAULT_METERS);
  const span = hours("2026-09-30T00:00:00Z", "2026-11-02T00:00:00Z");
  const series = (v: number) => span.map((t): [string, number] => [t, v]);
  const batch: Record<string, Record<string, Array<[string, number]>>> = {};
  const tenant = async (id: string, cores: number, ramMb: number, diskGb: number, ips: number) => {
    batch[await seed.resource("instance", project(id), ["vcpus", "memory"])] = { vcpus: series(cores), memory: series(ramMb) };
    batch[await seed.resource("volume", project(id), ["volume.size"])] = { "volume.size": series(diskGb) };
    for (let i = 0; i < ips; i++) batch[await seed.resource("network", project(id), ["ip.floating"])] = { "ip.floating": series(1) };
  };
  await tenant(P1, 2, 4096, 100, 1);
  await tenant(P2, 4, 8192, 50, 2);
  await tenant(P3, 8, 16384, 200, 2);
  await seed.measures(batch);
  await seed.processed();
}, 600_000);

afterAll(async () => {
  await h?.reconciler.stop();
  await receiver?.close();
});

describe("billing runs against the real Gnocchi", () => {
  let runId = 0;

  it("bills PAYG usage exactly, to the cent, with one Gnocchi request per meter", async () => {
    const res = await h.asOperator("/v1/billing-runs", { method: "POST", body: JSON.stringify({ period: "2026-10" }), headers: { "content-type": "application/json" } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { run: { id: number; total: string; invoiceCount: number } };
    runId = body.run.id;
    expect(gnocchiRequests).toBe(4);
    expect(body.run).toMatchObject({ invoiceCount: 2, total: "70.49", period: "2026-10", currency: "EUR" });

    const detail = (await (await h.asOperator(`/v1/billing-runs/${runId}`)).json()) as {
      invoices: Array<{ subscriptionId: string; total: string; lines: Array<{ resource: string; quantity: string; amount: string }> }>;
    };
    const inv = (id: string) => detail.invoices.find((i) => i.subscriptionId === id);
    // P1, PAYG all of October (744 h): 2 cores, 4 GB, 100 GB disk, 1 IP.
    expect(inv(P1)?.lines.map((l) => [l.resource, l.quantity, l.amount])).toEqual([
      ["cores", "1488.000000", "18.60"],
      ["ramGb", "2976.000000", "11.90"],
      ["diskGb", "74400.000000", "11.16"],
      ["floatingIps", "744.000000", "3.72"],
    ]);
    expect(inv(P1)?.total).toBe("45.38");
    // P2, PAYG from Oct 11 00:00 to its cancellation on Oct 21 12:30: 252.5 h, the last hour prorated.
    expect(inv(P2)?.lines.map((l) => [l.resource, l.quantity, l.amount])).toEqual([
      ["cores", "1010.000000", "12.62"], // 12.625 rounded half-even, once
      ["ramGb", "2020.000000", "8.08"],
      ["diskGb", "12625.000000", "1.89"],
      ["floatingIps", "505.000000", "2.52"],
    ]);
    expect(inv(P2)?.total).toBe("25.11");
    expect(inv(P3)).toBeUndefined();
  });

  it("the run totals its invoices per target, adding up to its total, in the answer, the list of runs and what the billing URL received", async () => {
    const perTarget = [
      { target: "one", currency: "EUR", invoiceCount: 1, total: "45.38" },
      { target: "two", currency: "EUR", invoiceCount: 1, total: "25.11" },
    ];
    const detail = (await (await h.asOperator(`/v1/billing-runs/${runId}`)).json()) as { run: { total: string; targetTotals: unknown } };
    expect(detail.run).toMatchObject({ total: "70.49", targetTotals: perTarget });
    const list = (await (await h.asOperator("/v1/billing-runs")).json()) as { runs: Array<{ id: number; targetTotals: unknown }> };
    expect(list.runs.find((r) => r.id === runId)?.targetTotals).toEqual(perTarget);
    // Delivered by the run itself, on its first attempt.
    expect(received[0]?.body).toMatchObject({ run: { targetTotals: perTarget } });
  });

  it("the finished run was POSTed once, signed, to the billing URL, and the delivery is recorded", async () => {
    expect(received).toHaveLength(1);
    expect(received[0]?.valid).toBe(true);
    expect(received[0]?.body).toMatchObject({ run: { period: "2026-10", total: "70.49" }, invoices: expect.arrayContaining([expect.objectContaining({ subscriptionId: P1, total: "45.38" })]) });
    const list = (await (await h.asOperator("/v1/billing-runs")).json()) as { runs: Array<{ delivery: { status: string } }> };
    expect(list.runs[0]?.delivery).toMatchObject({ status: "delivered", attempts: 1 });
  });

  it("running the same period again returns the same run and bills nothing twice", async () => {
    const again = await h.asOperator("/v1/billing-runs", { method: "POST", body: JSON.stringify({ period: "2026-10" }), headers: { "content-type": "application/json" } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { run: { id: number } }).run.id).toBe(runId);
    const count = await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM invoices");
    expect(count[0]?.n).toBe(2);
    expect(gnocchiRequests).toBe(4);
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(/^tenants_billing_runs_total\{result="created"\} 1$/m);
    expect(metrics).toMatch(/^tenants_billing_runs_total\{result="existing"\} 1$/m);
  });

  it("the stored inputs reproduce the same invoices, and a fresh computation from Gnocchi agrees", async () => {
    const { rateInputs } = await import("../../src/metering/billing-run.js");
    const stored = await h.billingStore.get(runId);
    expect(stored).not.toBeNull();
    expect(stored!.invoices.map((i) => i.version)).toEqual([1, 1]);
    const issued = stored!.invoices.map(({ version: _version, ...inv }) => inv);
    expect(rateInputs(stored!.inputs)).toEqual(issued);
    // The totals per target too: each subscription's target is recorded with its usage.
    const { runTotals } = await import("../../src/metering/run-totals.js");
    expect(runTotals(rateInputs(stored!.inputs), stored!.inputs, "one")).toEqual({ total: stored!.run.total, targetTotals: stored!.run.targetTotals });
    const { BillingService } = await import("../../src/metering/billing-service.js");
    const fresh = await new BillingService(h.billingStore, adminGnocchi, { prices: PRICES, meters: DEFAULT_METERS, granularitySeconds: 3600 }).compute("2026-10", PRICES);
    expect(fresh.invoices).toEqual(issued);
  });

  it("re-rating the month from the same Gnocchi measures issues nothing: every charge unchanged, no run stored, nothing delivered", async () => {
    const before = gnocchiRequests;
    const res = await h.asOperator("/v1/billing-runs", { method: "POST", body: JSON.stringify({ period: "2026-10", rerate: true }), headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
    const { created, run } = (await res.json()) as { created: boolean; run: { id: number; kind: string } };
    expect(gnocchiRequests - before).toBe(4); // measured again: one request per meter
    expect({ created, run }).toMatchObject({ created: false, run: { id: runId, kind: "bill" } });
    expect(received).toHaveLength(1);
  });

  it("invoices are served as CSV", async () => {
    const res = await h.asOperator(`/v1/billing-runs/${runId}/invoices.csv`);
    expect(res.headers.get("content-type")).toContain("text/csv");
    const csv = await res.text();
    expect(csv.split("\n")[0]).toBe("period,subscription,resource,unit,quantity,free_unit_hours,unit_price,amount,currency,document,version");
    expect(csv).toContain(`2026-10,${P2},cores,core-hour,1010.000000,0,0.0125,12.62,EUR`);
    expect(csv).toContain(`2026-10,${P1},total,,,,,45.38,EUR`);
  });

  it("an unfinished period, a malformed period and an unknown run are 4xx with a reason", async () => {
    const post = (body: unknown) => h.asOperator("/v1/billing-runs", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    // The month we are in (not a fixed one: that one ends, and is then billed).
    const current = new Date().toISOString().slice(0, 7);
    expect((await post({ period: current })).status).toBe(409);
    expect((await post({ period: "2026-13" })).status).toBe(422);
    expect((await post({})).status).toBe(422);
    expect((await h.asOperator("/v1/billing-runs/999")).status).toBe(404);
    expect((await h.app.request("/v1/billing-runs")).status).toBe(401);
  });
});
