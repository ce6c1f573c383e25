import parsePrometheus from "parse-prometheus-text-format";
import { Hono } from "hono";
import { describe, expect, it, onTestFinished } from "vitest";
import { GnocchiClient } from "../../../src/metering/gnocchi-client.js";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { PRICES } from "../../support/prices.js";

type Families = ReturnType<typeof parsePrometheus>;
const sample = (fams: Families, name: string, labels: Record<string, string> = {}) => {
  const fam = fams.find((f) => f.name === name);
  if (!fam) throw new Error(`${name} not exposed`);
  const m = fam.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m;
};
const value = (fams: Families, name: string, labels: Record<string, string> = {}) => Number(sample(fams, name, labels)?.value ?? 0);

describe("/metrics, parsed as Prometheus text", () => {
  it("counts events by type and outcome, refusals by reason, operations by kind and result, with durations", async () => {
    const h = await harness({ maxAttempts: 1 });
    await h.send(event("1", "subscription.created", { id: "e-1" }));
    await h.send(event("1", "subscription.created", { id: "e-1" })); // duplicate
    await h.send(event("2", "subscription.created"));
    await h.reconciler.idle();
    h.engine.failNext(new EngineFailure("Keystone said no", false), "sub-2");
    await h.send(event("2", "subscription.suspended"));
    await h.reconciler.idle();
    await h.send(event("3", "subscription.created"), { signature: "sha256=00" });
    await h.send(undefined, { raw: "{not json" });
    await h.send({ id: "x" });

    const res = await h.app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const body = await res.text();
    const fams = parsePrometheus(body);
    expect(value(fams, "tenants_events_received_total", { type: "subscription.created", outcome: "applied" })).toBe(2);
    expect(value(fams, "tenants_events_received_total", { type: "subscription.created", outcome: "duplicate" })).toBe(1);
    expect(value(fams, "tenants_events_refused_total", { reason: "signature" })).toBe(1);
    expect(value(fams, "tenants_events_refused_total", { reason: "malformed" })).toBe(1);
    expect(value(fams, "tenants_events_refused_total", { reason: "invalid" })).toBe(1);
    expect(value(fams, "tenants_operations_total", { kind: "up", result: "succeeded" })).toBe(2);
    expect(value(fams, "tenants_operations_total", { kind: "up", result: "failed" })).toBe(1);
    const hist = fams.find((f) => f.name === "tenants_operation_duration_seconds");
    expect(hist?.type).toBe("HISTOGRAM");
    expect(Object.keys(hist?.metrics[0]?.buckets ?? {})).toContain("+Inf");
    // The parser folds labelled histograms into one bucket map; the per-label count is read from its line.
    expect(body).toMatch(/^tenants_operation_duration_seconds_count\{kind="up",result="succeeded"\} 2$/m);
    expect(body).toMatch(/^tenants_operation_duration_seconds_count\{kind="up",result="failed"\} 1$/m);
    // Four events reached the store, one at a time: four transactions of one event each.
    expect(body).toMatch(/^tenants_intake_batch_events_count 4$/m);
    expect(body).toMatch(/^tenants_intake_batch_events_sum 4$/m);
  });

  it("shows group commit: concurrent webhooks share transactions", async () => {
    const h = await harness();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => h.send(event(`g${i}`, "subscription.created"))));
    expect(results.every((r) => r.status === 202)).toBe(true);
    const body = await (await h.app.request("/metrics")).text();
    const count = Number(/^tenants_intake_batch_events_count (\d+)$/m.exec(body)?.[1]);
    expect(Number(/^tenants_intake_batch_events_sum (\d+)$/m.exec(body)?.[1])).toBe(20);
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThan(20);
    await h.reconciler.idle();
  });

  it("reports subscriptions by status and phase, and the reconcile queue depth, from the store", async () => {
    const h = await harness();
    const release = h.engine.block("sub-5");
    await h.send(event("5", "subscription.created"));
    await h.send(event("6", "subscription.created"));
    await h.send(event("7", "subscription.created"));
    let fams = parsePrometheus(await (await h.app.request("/metrics")).text());
    expect(value(fams, "tenants_reconcile_queue_depth")).toBeGreaterThanOrEqual(1);
    release();
    await h.reconciler.idle();
    await h.send(event("7", "subscription.suspended"));
    await h.reconciler.idle();
    fams = parsePrometheus(await (await h.app.request("/metrics")).text());
    expect(value(fams, "tenants_reconcile_queue_depth")).toBe(0);
    expect(value(fams, "tenants_subscriptions", { status: "active", phase: "ready" })).toBe(2);
    expect(value(fams, "tenants_subscriptions", { status: "suspended", phase: "ready" })).toBe(1);
    expect(value(fams, "tenants_drifted_subscriptions")).toBe(0);
  });
});

describe("/metrics for alerts: the engine, billing, HTTP", () => {
  it("says the engine is unavailable while its check finds a problem, and available once it passes", async () => {
    let check = { cli: null as string | null, problems: ["the pulumi CLI is not on PATH: stacks cannot be updated"], blocking: [], cliTooOld: null };
    const h = await harness({ engineCheck: async () => check });
    const engineAvailable = async () => value(parsePrometheus(await (await h.app.request("/metrics")).text()), "tenants_engine_available");
    expect(await engineAvailable()).toBe(0);
    check = { cli: "pulumi v3.248.0", problems: ["the OpenStack provider plugin is not installed"], blocking: [], cliTooOld: null };
    expect(await engineAvailable()).toBe(0);
    check = { cli: "pulumi v3.248.0", problems: [], blocking: [], cliTooOld: null };
    expect(await engineAvailable()).toBe(1);
  });

  it("gives the end of the newest billed month as a timestamp, 0 before the first run", async () => {
    // Gnocchi measures nothing: runs with no usage are still runs.
    const g = await listen(new Hono().post("/v1/aggregates", (c) => c.json([])));
    onTestFinished(() => g.close());
    const h = await harness({ billing: { gnocchi: () => new GnocchiClient({ url: g.url, auth: { kind: "basic", user: "admin" } }), prices: PRICES } });
    const lastBilledEnd = async () => value(parsePrometheus(await (await h.app.request("/metrics")).text()), "tenants_billing_last_period_end_timestamp_seconds");
    expect(await lastBilledEnd()).toBe(0);
    const bill = (period: string) => h.asOperator("/v1/billing-runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ period }) });
    expect((await bill("2026-10")).status).toBe(201);
    expect((await bill("2026-09")).status).toBe(201);
    expect(await lastBilledEnd()).toBe(Date.UTC(2026, 10, 1) / 1000);
  });

  it("counts HTTP requests by route pattern and status (never by raw path), with their durations", async () => {
    const h = await harness();
    await h.asOperator("/v1/subscriptions/41");
    await h.asOperator("/v1/subscriptions/42");
    await h.app.request("/no/such/route");
    const body = await (await h.app.request("/metrics")).text();
    expect(body).toMatch(/^tenants_http_requests_total\{method="GET",route="\/v1\/subscriptions\/:id",status="404"\} 2$/m);
    expect(body).toMatch(/^tenants_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
    expect(body).not.toContain("/v1/subscriptions/41");
    expect(body).toMatch(/^tenants_http_request_duration_seconds_count\{method="GET",route="\/v1\/subscriptions\/:id"\} 2$/m);
  });
});
