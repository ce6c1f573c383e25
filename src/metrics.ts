import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { periodOf } from "./metering/period.js";

/** Counts read from the store at scrape time (not kept in memory, so every replica reports the truth). */
export interface MetricsSource {
  subscriptionsByStatus(): Promise<Array<{ status: string; phase: string; count: number }>>;
  /** Subscriptions whose desired state is ahead of what was applied: the reconcile queue. */
  queueDepth(): Promise<number>;
  driftedSubscriptions(): Promise<number>;
  /** Reconcile jobs that will not be retried. */
  deadLetters(): Promise<number>;
  /** Whether the engine can run stack operations now (its check, as /healthz shows it). */
  engineAvailable(): Promise<boolean>;
  /** The newest month a billing run was stored for ("YYYY-MM"), or null before the first run. */
  newestBilledPeriod(): Promise<string | null>;
}

/**
 * The service's Prometheus metrics, on a registry of its own (several services in one test process
 * never share counters). Names follow Prometheus conventions: `_total` counters, `_seconds` histograms.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly eventsReceived: Counter<"type" | "outcome">;
  readonly eventsRejected: Counter<"reason">;
  readonly operations: Counter<"kind" | "result">;
  readonly operationDuration: Histogram<"kind" | "result">;
  readonly intakeBatchEvents: Histogram;
  readonly billingRuns: Counter<"result">;
  readonly driftChecks: Counter<"result">;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route">;

  constructor(source: MetricsSource | null, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: "tenants_" });
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers });
    this.eventsReceived = counter("tenants_events_received_total", "Marketplace events that passed authentication and validation, by type and outcome (applied, duplicate, stale, rejected)", ["type", "outcome"]);
    this.eventsRejected = counter("tenants_events_refused_total", "Webhook requests refused before an event was stored, by reason", ["reason"]);
    this.operations = counter("tenants_operations_total", "Engine operations on stacks, by kind (up, destroy) and result (succeeded, failed, retried)", ["kind", "result"]);
    const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) => new Histogram<L>({ name, help, labelNames, buckets, registers });
    this.operationDuration = histogram("tenants_operation_duration_seconds", "Wall time of engine operations, retries included", ["kind", "result"], [0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640]);
    this.intakeBatchEvents = histogram(
      "tenants_intake_batch_events",
      "Events taken in by one database transaction (group commit of webhooks): its count is the transactions, its sum the events",
      [],
      [1, 2, 4, 8, 16, 32, 64, 128, 256],
    );
    this.billingRuns = counter("tenants_billing_runs_total", "Billing run requests, by result (created, existing, rerated, failed)", ["result"]);
    this.driftChecks = counter("tenants_drift_checks_total", "Drift checks of stacks, by result (in_sync, drifted, failed)", ["result"]);
    // `route` is the matched route's pattern (`/v1/subscriptions/:id`), never the raw path: bounded labels.
    this.httpRequests = counter("tenants_http_requests_total", "HTTP requests answered, by method, route pattern (unmatched: no route) and status code", ["method", "route", "status"]);
    this.httpDuration = histogram(
      "tenants_http_request_duration_seconds",
      "Time to answer HTTP requests (until the handler returns; a streamed body may go on), by method and route pattern",
      ["method", "route"],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    if (!source) return;
    // Gauges read the database at scrape time, so every replica reports the same truth.
    const gauge = (name: string, help: string, read: () => Promise<number>) =>
      new Gauge({ name, help, registers, async collect() { this.set(await read()); } });
    new Gauge({
      name: "tenants_subscriptions",
      help: "Subscriptions by desired status and reconcile phase",
      labelNames: ["status", "phase"], registers,
      async collect() {
        this.reset();
        for (const r of await source.subscriptionsByStatus()) this.set({ status: r.status, phase: r.phase }, r.count);
      },
    });
    gauge("tenants_reconcile_queue_depth", "Subscriptions waiting for a stack operation (desired state ahead of applied, not failed)", () => source.queueDepth());
    gauge("tenants_dead_letter_jobs", "Reconcile jobs that failed for good (retries exhausted or a permanent failure), kept for operators", () => source.deadLetters());
    gauge("tenants_drifted_subscriptions", "Subscriptions whose last drift check found differences not accepted by an operator", () => source.driftedSubscriptions());
    gauge(
      "tenants_engine_available",
      "1 when the engine can run stack operations (the pulumi CLI at a usable version, the OpenStack provider plugin installed: the check /healthz shows, repeated at most once a minute), else 0",
      async () => ((await source.engineAvailable()) ? 1 : 0),
    );
    // A timestamp, not the period's name: alerts compare it with time() (a missing month is > 35 days behind).
    gauge(
      "tenants_billing_last_period_end_timestamp_seconds",
      "End of the newest month a billing run was stored for (Unix time of the first second after it; 0 before the first run)",
      async () => {
        const period = await source.newestBilledPeriod();
        return period ? periodOf(period).stopMs / 1000 : 0;
      },
    );
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
