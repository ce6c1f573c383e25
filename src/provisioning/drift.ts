import { stackNameOf } from "../domain/subscription-id.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { DriftRecord } from "../domain/drift.js";
import type { Engine } from "./engine.js";
import type { DriftFindings, SubscriptionLedger } from "./ports.js";

export interface DriftDetectorOptions {
  store: Pick<SubscriptionLedger, "get" | "list">;
  drift: DriftFindings;
  engine: Engine;
  log: Logger;
  /** Seconds between two sweeps over every ready stack; 0 turns the schedule off (on demand only). */
  intervalSeconds: number;
  /** Whether a stack is being updated right now: its check is skipped, the update decides its state. */
  busy: (subscriptionId: string) => boolean;
  metrics?: Pick<Metrics, "driftChecks">;
}

export type DriftCheckResult = { subscription: string; outcome: "checked"; record: DriftRecord } | { subscription: string; outcome: "skipped" | "failed"; reason: string };

/**
 * Finds stacks whose cloud resources were changed outside the service (a quota raised by hand, a user
 * disabled in Horizon): a refresh preview per stack, which changes nothing. What it finds is recorded;
 * an operator repairs (a normal stack update puts the declaration back) or accepts it.
 */
export class DriftDetector {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<DriftCheckResult[]> | undefined;

  constructor(private readonly o: DriftDetectorOptions) {}

  start(): void {
    if (this.o.intervalSeconds <= 0) return;
    this.timer = setInterval(() => void this.sweep(), this.o.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
  }

  /** Checks every ready subscription, one at a time (refreshes read the whole tenant from OpenStack). */
  sweep(): Promise<DriftCheckResult[]> {
    this.sweeping ??= (async () => {
      try {
        const results: DriftCheckResult[] = [];
        for (const sub of await this.o.store.list({ phase: "ready" })) results.push(await this.check(sub.id));
        return results;
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
      const report = await this.o.engine.drift(stack);
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
