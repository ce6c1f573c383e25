import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { CreditNote, Invoice, IssuedInvoice } from "../../../src/domain/billing.js";
import { rerateDocuments } from "../../../src/metering/rerate.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { until } from "../../support/cloudesire-scene.js";
import { PRICES } from "../../support/prices.js";

const SECRET = "billing-secret-0123456789abcdef";
const OCTOBER_START = "2026-10-01T00:00:00Z";

/**
 * The billing system: keeps one copy per Idempotency-Key, as a receiver of our deliveries must, and
 * answers 500 to the first attempt of each key (a receiver restarting): the retry must not bill twice.
 */
async function failingOnceReceiver() {
  const attempts = new Map<string, number>();
  const kept = new Map<string, { run: { id: number; kind: string }; invoices: IssuedInvoice[]; credits: CreditNote[] }>();
  const srv = await listen(
    new Hono().post("/runs", async (c) => {
      const key = c.req.header("idempotency-key") ?? "";
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
      if (attempts.get(key) === 1) return c.text("restarting", 500);
      if (!kept.has(key)) kept.set(key, await c.req.json());
      return c.text("ok");
    }),
  );
  return { srv, attempts, kept };
}

type Run = { id: number; kind: string; invoiceCount: number; total: string; changes: Array<{ subscriptionId: string; change: string; before: unknown; after: unknown }> | null; delivery: { status: string; attempts: number } | null };

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function billedOctober(usage: Record<string, number>) {
  const receiver = await failingOnceReceiver();
  const h = await harness({ billing: { gnocchi: () => constantGnocchi(usage), prices: PRICES, delivery: { url: `${receiver.srv.url}/runs`, secret: SECRET, attempts: 3, backoffMs: 1 } } });
  cleanup.push(() => receiver.srv.close(), () => h.close());
  for (const id of ["81", "82"]) expect((await h.send(event(id, "subscription.created", { at: OCTOBER_START, plan: { model: "payg" } }))).status).toBe(202);
  await h.reconciler.idle();
  const post = async (body: unknown) => {
    const res = await h.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { created: boolean; run: Run; title?: string } };
  };
  /** A run once its delivery is over (its first attempt fails: the deliveries' worker retries it). */
  const delivered = async (id: number) => {
    let run: Run | undefined;
    await until(async () => {
      run = ((await (await h.asOperator(`/v1/billing-runs/${id}`)).json()) as { run: Run }).run;
      return run.delivery?.status === "delivered";
    }, `run ${id} delivered`);
    return run as Run;
  };
  const first = await post({ period: "2026-10" });
  expect(first.status).toBe(201);
  expect(first.body.run.delivery).toMatchObject({ status: "waiting", attempts: 1, error: "the billing URL answered 500" });
  return { h, receiver, post, delivered, first: await delivered(first.body.run.id) };
}

describe("re-rating a billed month (tenantctl bill --period P --rerate)", () => {
  it("a changed charge gets a credit note of version 1 and an invoice version 2, each delivered once though the receiver failed the first attempt; the unchanged one gets nothing", async () => {
    const usage: Record<string, number> = { "project-of-sub-81": 2, "project-of-sub-82": 4 };
    const { h, receiver, post, delivered, first } = await billedOctober(usage);
    expect(first).toMatchObject({ kind: "bill", invoiceCount: 2, changes: null, delivery: { status: "delivered", attempts: 2 } });

    // Late measures reach Gnocchi: subscription 81 used more; 82's usage is what was billed.
    usage["project-of-sub-81"] = 3;
    const rerated = await post({ period: "2026-10", rerate: true });
    expect(rerated.status).toBe(201);
    const run = await delivered(rerated.body.run.id);
    const v1 = await (await h.asOperator(`/v1/billing-runs/${first.id}`)).json() as { invoices: IssuedInvoice[] };
    const old81 = v1.invoices.find((i) => i.subscriptionId === "81") as IssuedInvoice;
    const old82 = v1.invoices.find((i) => i.subscriptionId === "82") as IssuedInvoice;
    expect(run).toMatchObject({ kind: "rerate", invoiceCount: 1, delivery: { status: "delivered", attempts: 2 } });
    expect(run.changes).toEqual([
      { subscriptionId: "81", change: "reissued", before: { version: 1, total: old81.total }, after: { version: 2, total: expect.any(String) } },
      { subscriptionId: "82", change: "unchanged", before: { version: 1, total: old82.total }, after: { version: 1, total: old82.total } },
    ]);

    const detail = (await (await h.asOperator(`/v1/billing-runs/${run.id}`)).json()) as { invoices: IssuedInvoice[]; credits: CreditNote[] };
    expect(detail.credits).toEqual([{ ...oldWithoutVersion(old81), cancelsVersion: 1 }]);
    expect(detail.invoices.map((i) => [i.subscriptionId, i.version])).toEqual([["81", 2]]);
    expect(Number(detail.invoices[0]?.total)).toBeGreaterThan(Number(old81.total));
    expect(detail.invoices[0]?.total).toBe(run.total);

    // Each run reached the billing system once, under its own key, though its first attempt failed.
    expect([...receiver.attempts]).toEqual([[`billing-run-${first.id}`, 2], [`billing-run-${run.id}`, 2]]);
    const pushed = receiver.kept.get(`billing-run-${run.id}`);
    expect(pushed?.run).toMatchObject({ id: run.id, kind: "rerate" });
    expect(pushed?.credits.map((c) => [c.subscriptionId, c.cancelsVersion, c.total])).toEqual([["81", 1, old81.total]]);
    expect(pushed?.invoices.map((i) => [i.subscriptionId, i.version, i.total])).toEqual([["81", 2, run.total]]);

    // The CSV says which document each line belongs to and its version; the list shows both runs.
    const csv = await (await h.asOperator(`/v1/billing-runs/${run.id}/invoices.csv`)).text();
    expect(csv).toContain(`2026-10,81,total,,,,,${old81.total},EUR,credit,1`);
    expect(csv).toContain(`2026-10,81,total,,,,,${run.total},EUR,invoice,2`);
    expect(csv).not.toContain(",82,");
    const list = (await (await h.asOperator("/v1/billing-runs")).json()) as { runs: Run[] };
    expect(list.runs.map((r) => [r.id, r.kind])).toEqual([[run.id, "rerate"], [first.id, "bill"]]);

    // A plain second bill stays refused as a second charge: the stored run, nothing new.
    const again = await post({ period: "2026-10" });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, run: { id: first.id, kind: "bill" } });

    // Re-rating again with nothing changed stores nothing, issues nothing and delivers nothing: the newest run stands.
    const idle = await post({ period: "2026-10", rerate: true });
    expect(idle).toMatchObject({ status: 200, body: { created: false, run: { id: run.id, kind: "rerate" } } });
    expect(receiver.attempts.size).toBe(2);

    // A later correction cancels version 2 (the one in force), and issues version 3.
    usage["project-of-sub-81"] = 1;
    const third = await post({ period: "2026-10", rerate: true });
    expect(third.body.run.changes?.[0]).toMatchObject({ subscriptionId: "81", change: "reissued", before: { version: 2 }, after: { version: 3 } });
    const invoices = await h.db.query<{ subscription_id: string; kind: string; version: number }>("SELECT subscription_id, kind, version FROM invoices ORDER BY run_id, kind DESC, subscription_id");
    expect(invoices.map((i) => `${i.subscription_id} ${i.kind} v${i.version}`)).toEqual([
      "81 invoice v1", "82 invoice v1", "81 invoice v2", "81 credit v1", "81 invoice v3", "81 credit v2",
    ]);
  });

  it("eight re-ratings at once of one correction store one run: the seven that find nothing changed store none (issue 31)", async () => {
    const usage: Record<string, number> = { "project-of-sub-81": 2, "project-of-sub-82": 4 };
    const { h, post, first } = await billedOctober(usage);
    usage["project-of-sub-81"] = 5;
    const answers = await Promise.all(Array.from({ length: 8 }, () => post({ period: "2026-10", rerate: true })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    const runs = await h.db.query<{ kind: string }>("SELECT kind FROM billing_runs WHERE period = '2026-10' ORDER BY id");
    expect(runs.map((r) => r.kind)).toEqual(["bill", "rerate"]);
    const stored = answers.find((a) => a.status === 201)?.body.run.id;
    expect(stored).not.toBe(first.id);
    expect(answers.every((a) => a.body.run.id === stored)).toBe(true);
  });

  it("re-rating a month never billed is refused (409) with the reason, and nothing is stored or delivered", async () => {
    const receiver = await failingOnceReceiver();
    const h = await harness({ billing: { gnocchi: () => constantGnocchi({}), prices: PRICES, delivery: { url: `${receiver.srv.url}/runs`, secret: SECRET, attempts: 3, backoffMs: 1 } } });
    cleanup.push(() => receiver.srv.close(), () => h.close());
    const res = await h.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ period: "2026-09", rerate: true }) });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { title: string }).title).toBe("period 2026-09 was never billed: there is nothing to re-rate (bill it first: tenantctl bill --period 2026-09)");
    expect(await h.db.query("SELECT id FROM billing_runs")).toEqual([]);
    expect(receiver.attempts.size).toBe(0);
    const bad = await h.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ period: "2026-09", rerate: "yes" }) });
    expect(bad.status).toBe(422);
  });
});

describe("what a re-rating issues (pure)", () => {
  const inv = (subscriptionId: string, cores: string): Invoice => ({
    subscriptionId, currency: "EUR", total: cores,
    lines: [{ resource: "cores", unit: "core-hour", quantity: "1.000000", freeUnitHours: "0", unitPrice: "1", amount: cores }],
  });
  const issued = (i: Invoice, version: number, credited = false) => ({ invoice: { ...i, version }, credited });

  it("a charge gone to zero is credited with no new invoice; a first charge is invoiced as the next version; zero stays zero with nothing issued", () => {
    const docs = rerateDocuments(
      [issued(inv("1", "5.00"), 1), issued(inv("2", "3.00"), 1, true), issued(inv("3", "0.00"), 1)],
      [inv("1", "0.00"), inv("2", "4.00"), inv("3", "0.00")],
    );
    expect(docs.changes.map((c) => [c.subscriptionId, c.change, c.after?.version ?? null])).toEqual([["1", "credited", null], ["2", "invoiced", 2], ["3", "unchanged", 1]]);
    expect(docs.credits.map((c) => [c.subscriptionId, c.cancelsVersion])).toEqual([["1", 1]]);
    expect(docs.invoices.map((i) => [i.subscriptionId, i.version])).toEqual([["2", 2]]);
  });

  it("the same money is unchanged even if a quantity under the free allowance moved", () => {
    const more = { ...inv("1", "5.00"), lines: [{ ...inv("1", "5.00").lines[0]!, quantity: "9.000000" }] };
    expect(rerateDocuments([issued(inv("1", "5.00"), 1)], [more]).changes[0]?.change).toBe("unchanged");
  });
});

function oldWithoutVersion({ version: _v, ...rest }: IssuedInvoice): Invoice {
  return rest;
}
