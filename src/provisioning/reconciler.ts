import { stackNameOf } from "../domain/subscription-id.js";
import { tenantSpecOf, type TenantSettings } from "../domain/tenant-spec.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { SubscriptionRecord, SubscriptionStore } from "../store/subscription-store.js";
import { EngineFailure, type Engine } from "./engine.js";
import type { ProgressHub } from "./progress.js";

export interface ReconcilerOptions {
  store: SubscriptionStore;
  engine: Engine;
  settings: TenantSettings;
  log: Logger;
  /** Operations on different subscriptions at once. */
  concurrency: number;
  /** Attempts of one operation when failures are transient, and the first backoff delay. */
  maxAttempts: number;
  backoffMs: number;
  /** How often the store is scanned for work not signalled by kick() (after a restart, another replica). */
  pollMs: number;
  /** Live progress of running operations (SSE); optional. */
  progress?: ProgressHub;
  metrics?: Pick<Metrics, "operations" | "operationDuration">;
}

/**
 * Drives every subscription's stack towards its desired state. At most one operation per subscription
 * at a time (a later event waits, then the newest desired state is applied once); different
 * subscriptions run in parallel up to `concurrency`. Work is found in the store, not in memory, so a
 * restart resumes whatever was accepted but not yet applied.
 */
export class Reconciler {
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Set<string>();
  private readonly again = new Set<string>();
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private scanning: Promise<void> | undefined;

  constructor(private readonly o: ReconcilerOptions) {}

  start(): void {
    this.stopped = false;
    void this.scan();
    this.timer = setInterval(() => void this.scan(), this.o.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  /** True while an operation on this subscription runs here (drift checks wait their turn). */
  busy(id: string): boolean {
    return this.running.has(id);
  }

  /** Signals that a subscription's desired state may have changed. */
  kick(id: string): void {
    if (this.stopped) return;
    if (this.running.has(id)) {
      this.again.add(id);
      return;
    }
    this.queued.add(id);
    this.pump();
  }

  /** Looks for pending work in the store (start-up, periodic). */
  scan(): Promise<void> {
    this.scanning ??= (async () => {
      try {
        for (const id of await this.o.store.pendingIds()) this.kick(id);
      } catch (e) {
        this.o.log.error("reconcile scan failed", { error: e instanceof Error ? e.message : String(e) });
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  /** Resolves when no operation is running or queued (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.queued.size > 0 || this.scanning) {
      await Promise.allSettled([...this.running.values(), this.scanning]);
      await new Promise((r) => setImmediate(r));
    }
  }

  private pump(): void {
    for (const id of this.queued) {
      if (this.active >= this.o.concurrency) return;
      if (this.running.has(id)) continue;
      this.queued.delete(id);
      this.active++;
      const run = this.reconcile(id)
        .catch((e: unknown) => this.o.log.error("reconcile crashed", { subscription: id, error: String(e) }))
        .finally(() => {
          this.active--;
          this.running.delete(id);
          if (this.again.delete(id)) this.queued.add(id);
          this.pump();
        });
      this.running.set(id, run);
    }
  }

  private async reconcile(id: string): Promise<void> {
    // Loop until the applied generation catches up: events that arrived during an operation are
    // applied by one more operation with the newest desired state, not one per event.
    for (;;) {
      if (this.stopped) return;
      const sub = await this.o.store.get(id);
      if (!sub || sub.generation <= sub.appliedGeneration || sub.phase === "failed") return;
      await this.applyOnce(sub);
    }
  }

  private async applyOnce(sub: SubscriptionRecord): Promise<void> {
    const { desired, generation } = sub;
    const stack = stackNameOf(sub.id);
    const kind = desired.status === "cancelled" ? "destroy" : "up";
    // The stack history is the audit log: every update names what asked for it.
    const cause = sub.pendingNote ?? `${desired.lastEvent.id} ${desired.lastEvent.type}`;
    const message = `${cause} (subscription ${sub.id}, generation ${generation})`;
    const opId = await this.o.store.beginOperation(sub.id, generation, kind, desired.lastEvent.id);
    const progress = this.o.progress;
    progress?.open(opId, { subscription: sub.id, stack, kind });
    const sinks = progress
      ? { onOutput: (line: string) => progress.output(opId, line), onProgress: (p: Parameters<ProgressHub["resource"]>[1]) => progress.resource(opId, p) }
      : {};
    const started = Date.now();
    const observe = (result: "succeeded" | "failed" | "retried") => {
      this.o.metrics?.operations.inc({ kind, result });
      if (result !== "retried") this.o.metrics?.operationDuration.observe({ kind, result }, (Date.now() - started) / 1000);
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const summary =
          kind === "destroy"
            ? await this.o.engine.destroy({ stack, message, ...sinks })
            : await this.o.engine.up({ stack, message, spec: tenantSpecOf(desired, this.o.settings), ...sinks });
        const outputs = kind === "up" ? await this.o.engine.outputs(stack) : null;
        const recorded = outputs
          ? { projectId: outputs.projectId, userId: outputs.userId, userName: outputs.userName, authUrl: outputs.authUrl, region: outputs.region, domainId: outputs.domainId }
          : null;
        await this.o.store.succeedOperation(opId, sub.id, generation, recorded, summary);
        observe("succeeded");
        progress?.finish(opId, "succeeded", null);
        this.o.log.info("operation", {
          subscription: sub.id, stack, event: desired.lastEvent.id, operation: opId, kind, result: "succeeded", attempt,
          durationMs: Date.now() - started, changes: summary.resourceChanges,
        });
        return;
      } catch (e) {
        const failure = e instanceof EngineFailure ? e : new EngineFailure(e instanceof Error ? e.message : String(e), false);
        if (failure.transient && attempt < this.o.maxAttempts && !this.stopped) {
          const delay = this.o.backoffMs * 2 ** (attempt - 1);
          observe("retried");
          progress?.retry(opId, { attempt, delayMs: delay, error: failure.message });
          this.o.log.warn("operation failed, will retry", { subscription: sub.id, stack, operation: opId, kind, attempt, delayMs: delay, error: failure.message });
          await new Promise((r) => setTimeout(r, delay));
          continue;
        }
        await this.o.store.failOperation(opId, sub.id, generation, failure.message);
        observe("failed");
        progress?.finish(opId, "failed", failure.message);
        this.o.log.error("operation", {
          subscription: sub.id, stack, event: desired.lastEvent.id, operation: opId, kind, result: "failed", attempt,
          durationMs: Date.now() - started, error: failure.message,
        });
        return;
      }
    }
  }
}
