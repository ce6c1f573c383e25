import type { StackLock } from "../../src/provisioning/stack-lock.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TENANT_RESOURCES, type TenantSpec } from "../../src/domain/tenant-spec.js";
import {
  EngineFailure,
  lockedFailure,
  type Engine,
  type DriftReport,
  type HistoryEntry,
  type Leftovers,
  type OutputSink,
  type ProgressSink,
  type OperationSummary,
  type PreviewResult,
  type StackChange,
} from "../../src/provisioning/engine.js";
import type { DriftDifference } from "../../src/domain/drift.js";
import type { StackOutputs } from "../../src/domain/lifecycle.js";
import { lockedMessage, removeNamedLocks, writeLock } from "./pulumi-locks.js";

export interface EngineCall {
  op: "up" | "preview" | "destroy" | "refresh" | "drift" | "breakLocks" | "adopt";
  stack: string;
  message?: string;
  spec?: TenantSpec;
  refresh?: boolean;
}

/** A stack as the shared backend holds it: its state (what it knows it created) and history. */
interface StackState {
  spec: TenantSpec | null;
  deployed: boolean;
  /** The outputs' secret password: what the last successful update applied. */
  password: string | null;
  projectId: string | null;
  userId: string | null;
  /** CREATE steps a killed `pulumi up` left unfinished: the resources exist in the cloud, not in the state. */
  pendingCreates: Array<"project" | "user">;
  history: HistoryEntry[];
}

/**
 * What several engines (replicas, each with its own work tree) share: the Pulumi backend (states, lock
 * files under a real directory, laid out as Pulumi's DIY backend lays them) and the cloud (Keystone
 * projects by name, as an interrupted create leaves them).
 */
export class SharedBackend {
  readonly dir = mkdtempSync(join(tmpdir(), "pulumi-backend-"));
  readonly stacks = new Map<string, StackState>();
  /** Keystone, as far as names go: `sub-<id>` → ids, created by an update (possibly an interrupted one). */
  readonly keystone = new Map<string, { projectId: string; userId: string }>();
  /** Every call of every engine over this backend (replicas), and the most operations on one stack at once. */
  readonly calls: EngineCall[] = [];
  readonly inFlight = new Map<string, number>();
  maxConcurrentPerStack = 0;
  /** Updates that changed a stack's applied password (a rotation, or a replica that lost it). */
  readonly passwordChanges = new Map<string, number>();
  callsFor(stack: string): EngineCall[] {
    return this.calls.filter((c) => c.stack === stack);
  }
  /** Ids Keystone gives the project and user of `stack`; a second create of the same stack gets new ones. */
  idsFor(stack: string): { projectId: string; userId: string } {
    const n = (this.created.get(stack) ?? 0) + 1;
    this.created.set(stack, n);
    const suffix = n === 1 ? "" : `-${n}`;
    return { projectId: `project-of-${stack}${suffix}`, userId: `user-of-${stack}${suffix}` };
  }
  private created = new Map<string, number>();
}

/**
 * A test double of the engine: records every call and keeps per-stack state and history, and can be told
 * to fail or to block. It is not the Pulumi CLI and does not pretend to be; it models these facts of it:
 * - the stack's state and lock files live in the shared backend; the config (spec, password) is kept per
 *   work tree (`stacks/Pulumi.<stack>.yaml`), so a second replica starts with none;
 * - a lock names the `pulumi` process (host, pid), not the service (pulumi/pulumi diy/lock.go), and an
 *   update on a locked stack fails with checkForLock's message;
 * - `up` diffs the program against the saved state: a change made in the cloud (drift) is neither seen
 *   nor repaired unless the update refreshes first (`up --refresh`);
 * - a create killed midway leaves pending CREATE operations: the project exists in Keystone but not in the
 *   state, and the next `up` creates `sub-<id>` again, which Keystone refuses with 409 until the
 *   leftovers are adopted (`refresh --clear-pending-creates` + `import`).
 */
export class RecordingEngine implements Engine {
  readonly calls: EngineCall[] = [];
  /** This work tree's stack config files: what `pulumi config` would show here. */
  readonly config = new Map<string, { spec: TenantSpec; password: string }>();
  private failures: Array<{ stack?: string; error: EngineFailure }> = [];
  private gates: Array<{ stack: string; release: Promise<void> }> = [];
  /** Concurrent operations per stack right now, and the most ever seen at once. */
  private inFlight = new Map<string, number>();
  maxConcurrentPerStack = 0;
  maxConcurrentOverall = 0;

  private drifts = new Map<string, DriftDifference[]>();

  constructor(readonly backend: SharedBackend = new SharedBackend()) {}

  /** Leaves a Pulumi lock file on `stack`, as a `pulumi` process killed mid-update does. */
  leaveLock(stack: string, owner: { hostname: string; pid: number }): string {
    return writeLock(this.backend.dir, stack, owner);
  }

  async breakLocks(stack: string, locks: StackLock[]): Promise<void> {
    this.calls.push({ op: "breakLocks", stack });
    removeNamedLocks(locks);
  }

  /** Makes the cloud differ from `stack`'s state (as if someone changed it by hand) until a refreshing update. */
  driftOutside(stack: string, differences: DriftDifference[]): void {
    this.drifts.set(stack, differences);
  }

  /**
   * As if the `pulumi up` creating `stack` was killed after Keystone created the project and user but
   * before the state recorded them.
   */
  interruptCreate(stack: string, spec: TenantSpec): { projectId: string; userId: string } {
    const made = this.backend.idsFor(stack);
    this.backend.keystone.set(spec.projectName, made);
    this.backend.stacks.set(stack, { spec: null, deployed: false, password: null, projectId: null, userId: null, pendingCreates: ["project", "user"], history: [] });
    return made;
  }

  /**
   * The next create on `stack` reaches Keystone, which creates the project and user, but its answer is lost
   * (a proxy's 502, a reset connection): the provider's create returns an error and no id, so the state
   * records nothing and has no pending operation either (the CLI finished the step, as failed). gophercloud
   * v1.8.0 returns Go's net/http error as it is, which the failure classification reads as transient.
   */
  loseNextCreateAnswer(stack: string): void {
    this.lostAnswers.add(stack);
  }
  private lostAnswers = new Set<string>();

  async drift(stack: string): Promise<DriftReport | null> {
    this.calls.push({ op: "drift", stack });
    await new Promise((r) => setImmediate(r));
    const s = this.backend.stacks.get(stack);
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
    return this.run({ op: "up", stack: req.stack, message: req.message, spec: req.spec, refresh: req.refresh ?? false }, req, (s) => {
      this.config.set(req.stack, { spec: req.spec, password: req.password });
      if (s.pendingCreates.length > 0 || (!s.projectId && this.backend.keystone.has(req.spec.projectName))) {
        // The create runs again and Keystone refuses the name (terraform-provider-openstack wraps it so).
        throw new EngineFailure(
          `error: 1 error occurred:\n\t* creating urn:pulumi:${req.stack}::openstack-tenants::openstack:identity/project:Project::project: 1 error occurred:\n\t* Error creating OpenStack project: Expected HTTP response code [201] when accessing [POST /v3/projects], but got 409 instead: {"error":{"code":409,"message":"Conflict occurred attempting to store project - Duplicate entry.","title":"Conflict"}}`,
          false,
        );
      }
      if (this.lostAnswers.delete(req.stack) && !s.projectId) {
        this.backend.keystone.set(req.spec.projectName, this.backend.idsFor(req.stack));
        throw new EngineFailure(`error: 1 error occurred:\n\t* creating urn:pulumi:${req.stack}::openstack-tenants::openstack:identity/project:Project::project: 1 error occurred:\n\t* Error creating OpenStack project: Post "http://127.0.0.1:5000/v3/projects": EOF`, true);
      }
      if (req.refresh) this.drifts.delete(req.stack); // refreshed, then the declaration put back
      const created = !s.deployed;
      if (!s.projectId) {
        const made = this.backend.idsFor(req.stack);
        this.backend.keystone.set(req.spec.projectName, made);
        s.projectId = made.projectId;
        s.userId = made.userId;
      }
      const passwordChanged = s.password !== null && s.password !== req.password;
      if (passwordChanged) this.backend.passwordChanges.set(req.stack, (this.backend.passwordChanges.get(req.stack) ?? 0) + 1);
      s.spec = req.spec;
      s.password = req.password;
      s.deployed = true;
      const changes: Record<string, number> = created ? { create: 6 } : { same: passwordChanged ? 4 : 5, update: passwordChanged ? 2 : 1 };
      return changes;
    });
  }

  async adopt(req: { stack: string; message: string; found: Leftovers }): Promise<string[]> {
    this.calls.push({ op: "adopt", stack: req.stack, message: req.message });
    // `refresh --clear-pending-creates` and `import` lock the stack like any update.
    const locked = lockedMessage(this.backend.dir, req.stack);
    if (locked) throw lockedFailure(locked);
    const s = this.backend.stacks.get(req.stack);
    if (!s) return [];
    s.pendingCreates = []; // refresh --clear-pending-creates
    const adopted: string[] = [];
    if (req.found.projectId && !s.projectId) {
      s.projectId = req.found.projectId;
      adopted.push(`project ${req.found.projectId}`);
    }
    if (req.found.userId && !s.userId) {
      s.userId = req.found.userId;
      adopted.push(`user ${req.found.userId}`);
    }
    return adopted;
  }

  async preview(req: { stack: string; spec: TenantSpec }): Promise<PreviewResult> {
    this.calls.push({ op: "preview", stack: req.stack, spec: req.spec });
    const s = this.backend.stacks.get(req.stack);
    const changes: Record<string, number> = !s?.deployed ? { create: 6 } : JSON.stringify(s.spec) === JSON.stringify(req.spec) ? { same: 6 } : { same: 5, update: 1 };
    return { changeSummary: changes, text: `Previewing update (${req.stack})\n${JSON.stringify(changes)}\n` };
  }

  async destroy(req: { stack: string; message: string; onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<OperationSummary> {
    return this.run({ op: "destroy", stack: req.stack, message: req.message }, req, (s) => {
      const had = s.deployed;
      s.deployed = false;
      if (s.spec) this.backend.keystone.delete(s.spec.projectName);
      s.projectId = null;
      s.userId = null;
      const changes: Record<string, number> = had ? { delete: 6 } : {};
      return changes;
    });
  }

  async refresh(req: { stack: string; message: string }): Promise<OperationSummary> {
    return this.run({ op: "refresh", stack: req.stack, message: req.message }, {}, () => ({ same: 6 }));
  }

  async history(stack: string): Promise<HistoryEntry[]> {
    return [...(this.backend.stacks.get(stack)?.history ?? [])].reverse();
  }

  async outputs(stack: string): Promise<StackOutputs | null> {
    const s = this.backend.stacks.get(stack);
    if (!s?.deployed || !s.spec || !s.password || !s.projectId || !s.userId) return null;
    return {
      projectId: s.projectId, userId: s.userId, userName: s.spec.userName,
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

  private async run(call: EngineCall, sinks: { onOutput?: OutputSink; onProgress?: ProgressSink }, apply: (s: StackState) => Record<string, number>): Promise<OperationSummary> {
    this.calls.push(call);
    this.backend.calls.push(call);
    const n = (this.inFlight.get(call.stack) ?? 0) + 1;
    this.inFlight.set(call.stack, n);
    this.maxConcurrentPerStack = Math.max(this.maxConcurrentPerStack, n);
    const shared = (this.backend.inFlight.get(call.stack) ?? 0) + 1;
    this.backend.inFlight.set(call.stack, shared);
    this.backend.maxConcurrentPerStack = Math.max(this.backend.maxConcurrentPerStack, shared);
    const overall = [...this.inFlight.values()].reduce((a, b) => a + b, 0);
    this.maxConcurrentOverall = Math.max(this.maxConcurrentOverall, overall);
    try {
      const gateAt = this.gates.findIndex((g) => g.stack === call.stack);
      if (gateAt >= 0) {
        const [gate] = this.gates.splice(gateAt, 1);
        await gate?.release;
      }
      await new Promise((r) => setImmediate(r));
      const s = this.backend.stacks.get(call.stack) ?? { spec: null, deployed: false, password: null, projectId: null, userId: null, pendingCreates: [], history: [] };
      this.backend.stacks.set(call.stack, s);
      const locked = lockedMessage(this.backend.dir, call.stack);
      if (locked) throw lockedFailure(locked);
      const failAt = this.failures.findIndex((f) => !f.stack || f.stack === call.stack);
      const startTime = new Date().toISOString();
      const kind = call.op === "up" ? "update" : call.op;
      const failed = (error: unknown) => {
        s.history.push({ version: s.history.length + 1, kind, message: call.message ?? "", result: "failed", startTime, endTime: startTime, resourceChanges: {} });
        return error;
      };
      if (failAt >= 0) {
        const [f] = this.failures.splice(failAt, 1);
        throw failed(f?.error);
      }
      await this.stream(call, sinks);
      let changes: Record<string, number>;
      try {
        changes = apply(s);
      } catch (e) {
        throw failed(e);
      }
      s.history.push({ version: s.history.length + 1, kind, message: call.message ?? "", result: "succeeded", startTime, endTime: new Date().toISOString(), resourceChanges: changes });
      return { resourceChanges: changes };
    } finally {
      this.inFlight.set(call.stack, (this.inFlight.get(call.stack) ?? 1) - 1);
      this.backend.inFlight.set(call.stack, (this.backend.inFlight.get(call.stack) ?? 1) - 1);
    }
  }
}
