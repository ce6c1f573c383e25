import { randomBytes } from "node:crypto";
import { TENANT_RESOURCES, type TenantSpec } from "../../src/domain/tenant-spec.js";
import {
  EngineFailure,
  type Engine,
  type DriftDifference,
  type DriftReport,
  type HistoryEntry,
  type OutputSink,
  type ProgressSink,
  type OperationSummary,
  type PreviewResult,
  type StackChange,
  type StackOutputs,
} from "../../src/provisioning/engine.js";

export interface EngineCall {
  op: "up" | "preview" | "destroy" | "refresh" | "drift" | "cancel";
  stack: string;
  message?: string;
  spec?: TenantSpec;
}

/**
 * A test double of the engine: records every call, keeps per-stack state and history in memory, and
 * can be told to fail or to block. It is not the Pulumi CLI and does not pretend to be.
 */
export class RecordingEngine implements Engine {
  readonly calls: EngineCall[] = [];
  private readonly stacks = new Map<string, { spec: TenantSpec | null; password: string; history: HistoryEntry[]; deployed: boolean }>();
  private failures: Array<{ stack?: string; error: EngineFailure }> = [];
  private gates: Array<{ stack: string; release: Promise<void> }> = [];
  /** Concurrent operations per stack right now, and the most ever seen at once. */
  private inFlight = new Map<string, number>();
  maxConcurrentPerStack = 0;
  maxConcurrentOverall = 0;

  private drifts = new Map<string, DriftDifference[]>();
  private locks = new Map<string, { host: string; pid: number }>();

  /** Leaves a Pulumi lock on `stack`, as an update killed mid-way does: updates fail until cancel(). */
  leaveLock(stack: string, owner: { host: string; pid: number }): void {
    this.locks.set(stack, owner);
  }

  async cancel(stack: string): Promise<void> {
    this.calls.push({ op: "cancel", stack });
    this.locks.delete(stack);
  }

  /** Makes the cloud differ from `stack`'s state (as if someone changed it by hand) until the next up. */
  driftOutside(stack: string, differences: DriftDifference[]): void {
    this.drifts.set(stack, differences);
  }

  async drift(stack: string): Promise<DriftReport | null> {
    this.calls.push({ op: "drift", stack });
    await new Promise((r) => setImmediate(r));
    const s = this.stacks.get(stack);
    if (!s?.deployed) return null;
    const failAt = this.failures.findIndex((f) => f.stack === stack);
    if (failAt >= 0) throw this.failures.splice(failAt, 1)[0]?.error;
    return { differences: this.drifts.get(stack) ?? [] };
  }

  failNext(error: EngineFailure, stack?: string): void {
    this.failures.push({ stack, error });
  }

  /** Holds the next operation on `stack` until the returned function is called. */
  block(stack: string): () => void {
    let release!: () => void;
    this.gates.push({ stack, release: new Promise<void>((r) => (release = r)) });
    return release;
  }

  callsFor(stack: string): EngineCall[] {
    return this.calls.filter((c) => c.stack === stack);
  }

  async up(req: StackChange): Promise<OperationSummary> {
    return this.run({ op: "up", stack: req.stack, message: req.message, spec: req.spec }, req, (s) => {
      this.drifts.delete(req.stack);
      const created = !s.deployed;
      s.spec = req.spec;
      s.deployed = true;
      const changes: Record<string, number> = created ? { create: 6 } : { same: 5, update: 1 };
      return changes;
    });
  }

  async preview(req: Omit<StackChange, "message">): Promise<PreviewResult> {
    this.calls.push({ op: "preview", stack: req.stack, spec: req.spec });
    const s = this.stacks.get(req.stack);
    const changes: Record<string, number> = !s?.deployed ? { create: 6 } : JSON.stringify(s.spec) === JSON.stringify(req.spec) ? { same: 6 } : { same: 5, update: 1 };
    return { changeSummary: changes, text: `Previewing update (${req.stack})\n${JSON.stringify(changes)}\n` };
  }

  async destroy(req: { stack: string; message: string; onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<OperationSummary> {
    return this.run({ op: "destroy", stack: req.stack, message: req.message }, req, (s) => {
      const had = s.deployed;
      s.deployed = false;
      const changes: Record<string, number> = had ? { delete: 6 } : {};
      return changes;
    });
  }

  async refresh(req: { stack: string; message: string }): Promise<OperationSummary> {
    return this.run({ op: "refresh", stack: req.stack, message: req.message }, {}, () => ({ same: 6 }));
  }

  async history(stack: string): Promise<HistoryEntry[]> {
    return [...(this.stacks.get(stack)?.history ?? [])].reverse();
  }

  async outputs(stack: string): Promise<StackOutputs | null> {
    const s = this.stacks.get(stack);
    if (!s?.deployed || !s.spec) return null;
    return {
      projectId: `project-of-${stack}`, userId: `user-of-${stack}`, userName: s.spec.userName,
      authUrl: s.spec.authUrl, region: s.spec.region, domainId: s.spec.domainId, password: s.password,
    };
  }

  /**
   * Emits what a real engine streams during an operation: output lines and, per resource, a start and
   * an end, so progress displays and the SSE stream have something true to show.
   */
  private async stream(call: EngineCall, sinks: { onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<void> {
    const op = call.op === "destroy" ? "delete" : "update";
    sinks.onOutput?.(`${call.op === "destroy" ? "Destroying" : "Updating"} (${call.stack})`);
    for (const r of TENANT_RESOURCES) {
      sinks.onProgress?.({ name: r.name, type: r.type, op, state: "started" });
      await new Promise((res) => setImmediate(res));
      sinks.onProgress?.({ name: r.name, type: r.type, op, state: "done" });
      sinks.onOutput?.(`  ${op === "delete" ? "-" : "~"} ${r.type} ${r.name}`);
    }
  }

  private async run(call: EngineCall, sinks: { onOutput?: OutputSink; onProgress?: ProgressSink }, apply: (s: { spec: TenantSpec | null; password: string; history: HistoryEntry[]; deployed: boolean }) => Record<string, number>): Promise<OperationSummary> {
    this.calls.push(call);
    const n = (this.inFlight.get(call.stack) ?? 0) + 1;
    this.inFlight.set(call.stack, n);
    this.maxConcurrentPerStack = Math.max(this.maxConcurrentPerStack, n);
    const overall = [...this.inFlight.values()].reduce((a, b) => a + b, 0);
    this.maxConcurrentOverall = Math.max(this.maxConcurrentOverall, overall);
    try {
      const gateAt = this.gates.findIndex((g) => g.stack === call.stack);
      if (gateAt >= 0) {
        const [gate] = this.gates.splice(gateAt, 1);
        await gate?.release;
      }
      await new Promise((r) => setImmediate(r));
      const s = this.stacks.get(call.stack) ?? { spec: null, password: randomBytes(12).toString("base64url"), history: [], deployed: false };
      this.stacks.set(call.stack, s);
      const lock = this.locks.get(call.stack);
      if (lock) {
        throw new EngineFailure(
          `the stack is currently locked by 1 lock(s): created by tenants@${lock.host} (pid ${lock.pid}) at 2026-11-25T10:00:00Z`,
          true, lock,
        );
      }
      const failAt = this.failures.findIndex((f) => !f.stack || f.stack === call.stack);
      const startTime = new Date().toISOString();
      if (failAt >= 0) {
        const [f] = this.failures.splice(failAt, 1);
        s.history.push({ version: s.history.length + 1, kind: call.op === "up" ? "update" : call.op, message: call.message ?? "", result: "failed", startTime, endTime: startTime, resourceChanges: {} });
        throw f?.error;
      }
      await this.stream(call, sinks);
      const changes = apply(s);
      s.history.push({ version: s.history.length + 1, kind: call.op === "up" ? "update" : call.op, message: call.message ?? "", result: "succeeded", startTime, endTime: new Date().toISOString(), resourceChanges: changes });
      return { resourceChanges: changes };
    } finally {
      this.inFlight.set(call.stack, (this.inFlight.get(call.stack) ?? 1) - 1);
    }
  }
}
