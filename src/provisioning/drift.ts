import { stackNameOf } from "../domain/subscription-id.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { DriftRecord } from "../domain/drift.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import type { Engine } from "./engine.js";
import type { DriftFindings, FleetSchedule, SubscriptionLedger } from "./ports.js";
import { limiter, paced, type SweepPace } from "./sweep-pace.js";

export interface DriftDetectorOptions {
  store: Pick<SubscriptionLedger, "get" | "page" | "declaredSpec">;
  drift: DriftFindings;
  engine: Engine;
  log: Logger;
  /** Seconds between two sweeps over every ready stack; 0 turns the schedule off (on demand only). */
  intervalSeconds: number;
  /** Whether a stack is being updated right now: its check is skipped, the update decides its state. */
  busy: (subscriptionId: string) => boolean;
  metrics?: Pick<Metrics, "driftChecks">;
  /** A few OpenStack reads before the engine (drift-precheck.ts): "in_sync" records the stack in sync without a refresh preview. */
  observe?: (sub: SubscriptionRecord, declared: unknown) => Promise<"in_sync" | "differs" | "unknown">;
  /** Checks at once in a sweep (refresh previews stay one at a time); a scheduled sweep spreads them over the interval. */
  concurrency?: number;
  /** Who sweeps each interval when several replicas run (one of them); none: this process, always. */
  schedule?: FleetSchedule;
}

/** Subscriptions read per page when a sweep lists the ready ones. */
const SWEEP_PAGE = 1000;

/** A scheduled sweep's starts end this far into the interval, leaving the rest for the last checks. */
const SPREAD_OF_INTERVAL = 0.9;

export type DriftCheckResult = { subscription: string; outcome: "checked"; record: DriftRecord } | { subscription: string; outcome: "skipped" | "failed"; reason: string };

/**
 * Finds stacks whose cloud resources were changed outside the service (a quota raised by hand, a user
 * disabled in Horizon): a refresh preview per stack, which changes nothing. What it finds is recorded;
 * an operator repairs (a normal stack update puts the declaration back) or accepts it.
 */
export class DriftDetector {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<DriftCheckResult[]> | undefined;
  private readonly stopping = new AbortController();
  private readonly engineTurn = limiter(1);

  constructor(private readonly o: DriftDetectorOptions) {}

  start(): void {
    if (this.o.intervalSeconds <= 0) return;
    this.timer = setInterval(() => void this.scheduledSweep(), this.o.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.stopping.abort();
    await this.sweeping;
  }

  /**
   * The schedule's sweep, run by the one replica that claims this interval's run (null: another replica
   * has it). A fleet of N replicas sweeps once per interval, not N times.
   */
  async scheduledSweep(): Promise<DriftCheckResult[] | null> {
    const intervalMs = this.o.intervalSeconds * 1000;
    try {
      if (this.o.schedule && !(await this.o.schedule.claim("drift-sweep", intervalMs))) return null;
    } catch (e) {
      this.o.log.warn("drift sweep not claimed: the database did not answer", { error: e instanceof Error ? e.message : String(e) });
      return null;
    }
    return this.sweep({ spreadMs: intervalMs * SPREAD_OF_INTERVAL });
  }

  /** Checks every ready subscription, `concurrency` at a time, their starts spread over `spreadMs` (on demand: 0). */
  sweep(o: { spreadMs?: number } = {}): Promise<DriftCheckResult[]> {
    this.sweeping ??= (async () => {
      try {
        // Ids only, read a page at a time: 10,000 subscriptions' records are not held for an hour's sweep.
        const ready: string[] = [];
        for (let after: string | undefined, more = true; more; ) {
          const page = await this.o.store.page({ phase: "ready", limit: SWEEP_PAGE, after });
          ready.push(...page.items.map((s) => s.id));
          after = page.next ?? undefined;
          more = page.next !== null;
        }
        const pace: SweepPace = { concurrency: this.o.concurrency ?? 1, spreadMs: o.spreadMs ?? 0 };
        return await paced(ready, (id) => this.check(id), pace, { signal: this.stopping.signal });
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /**
   * Checks again once the subscription's running operation is over (after a drift repair): its finding
   * stays until this check says the stack is in sync. Gives up after `waitMs`.
   */
  recheck(subscriptionId: string, waitMs = 600_000): Promise<DriftCheckResult> {
    const deadline = Date.now() + waitMs;
    this.rechecking = (async () => {
      while (this.o.busy(subscriptionId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return this.check(subscriptionId);
    })();
    return this.rechecking;
  }

  /** The last recheck started (tests wait for it). */
  rechecking: Promise<DriftCheckResult> | undefined;

  async check(subscriptionId: string): Promise<DriftCheckResult> {
    const sub = await this.o.store.get(subscriptionId);
    if (!sub || sub.phase !== "ready" || this.o.busy(subscriptionId)) {
      // Not applied yet, being applied, failed or cancelled: the next operation decides, not a refresh.
      return { subscription: subscriptionId, outcome: "skipped", reason: `phase is ${sub?.phase ?? "unknown"}${sub && this.o.busy(sub.id) ? " (operation running)" : ""}` };
    }
    const stack = stackNameOf(sub.id);
    try {
      // Refresh previews read the whole tenant through a Pulumi CLI and the provider: paid only where the cheap look is not sure.
      // Against what the stack declares (its last successful update), not what the next one would write.
      const declared = this.o.observe ? await this.o.store.declaredSpec(sub.id) : null;
      const seen = await this.o.observe?.(sub, declared).catch((e: unknown) => {
        this.o.log.warn("drift pre-check", { subscription: sub.id, result: "unknown", error: e instanceof Error ? e.message : String(e) });
        return "unknown" as const;
      });
      const report = seen === "in_sync" ? { differences: [] } : await this.engineTurn(() => this.o.engine.drift(stack));
      if (!report) return { subscription: sub.id, outcome: "skipped", reason: `stack ${stack} does not exist` };
      const record = await this.o.drift.record(sub.id, report.differences);
      this.o.metrics?.driftChecks.inc({ result: record.state === "in_sync" ? "in_sync" : "drifted" });
      const level = record.state === "drifted" ? this.o.log.warn : this.o.log.info;
      level("drift check", { subscription: sub.id, stack, result: record.state, differences: record.differences.length });
      return { subscription: sub.id, outcome: "checked", record };
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      await this.o.drift.recordFailure(sub.id, reason);
      this.o.metrics?.driftChecks.inc({ result: "failed" });
      this.o.log.warn("drift check", { subscription: sub.id, stack, result: "failed", error: reason });
      return { subscription: sub.id, outcome: "failed", reason };
    }
  }
}
