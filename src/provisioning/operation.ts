import { AppError } from "../domain/errors.js";
import { nothingToDestroy, operationFor, recordedOf, type Declaration, type OperationOutcome, type RecordedOutputs, type SubscriptionRecord } from "../domain/lifecycle.js";
import { declarationHash } from "../domain/rollout.js";
import { generatePassword } from "../domain/password.js";
import { stackNameOf } from "../domain/subscription-id.js";
import { tenantSpecOf, type TenantSettings } from "../domain/tenant-spec.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import { EngineFailure, type Engine, type OperationSummary } from "./engine.js";
import type { ReconcileJob, SubscriptionLedger } from "./ports.js";
import type { ProgressHub } from "./progress.js";
import { isOrphaned } from "./stack-lock.js";
import type { TenantGuard } from "./tenant-guard.js";

export interface OperationDeps {
  store: SubscriptionLedger;
  engine: Engine;
  settings: TenantSettings;
  /** The version of the program that declares tenants (program-version.ts), recorded with each update's spec. */
  programVersion: string;
  log: Logger;
  /**
   * When the queue runs a failed job again, at the earliest: the progress stream's `retry` event tells a
   * watching client. Without it the stream only says "(will retry)".
   */
  retryDelayMs?: (job: ReconcileJob) => number;
  /** Live progress of running operations (SSE); optional. */
  progress?: ProgressHub;
  metrics?: Pick<Metrics, "operations" | "operationDuration">;
  /** Checks against the cloud before the engine runs (downsizes, leftovers of cancelled projects). */
  guard?: TenantGuard;
  /** A drift repair succeeded: the finding stays until a check says the stack is in sync (the caller checks). */
  onRepaired?: (subscriptionId: string) => void;
  /**
   * What the service still needs before it can provision (the pulumi CLI, admin credentials); empty when
   * it can. While anything is missing, operations wait instead of failing (domain/lifecycle.ts).
   */
  readiness?: () => string[];
  /**
   * Why this subscription's operation cannot run now though the service can (its target is down, or has
   * no room left for what it grows to): it waits, with the reason, and goes on by itself (bulkheads: a
   * target's trouble holds only its own tenants). Null: it can run.
   */
  hold?: (sub: SubscriptionRecord, kind: "up" | "destroy") => Promise<{ what: string; reasons: string[] } | null>;
}

/**
 * What becomes of the job. `next`: the subscription as the recorded outcome left it (spares reading it
 * again); `exhausted`: a transient failure out of retries (the queue dead-letters it itself).
 */
export type JobResult = { kind: "done"; next?: SubscriptionRecord | null } | { kind: "retry"; error: string } | { kind: "failed"; error: string; exhausted: boolean };

/**
 * One operation on one subscription's stack, from its start to its recorded outcome: the tenant guard's
 * checks, the engine, the recovery of a dead process's stack lock, and the outcome reported once.
 */
export class StackOperations {
  constructor(
    private readonly o: OperationDeps,
    /** Who runs them (host:pid:instance), as recorded on each operation. */
    private readonly owner: string,
    /** The reconciler is stopping: a transient failure is not retried by this process. */
    private readonly stopped: () => boolean,
  ) {}

  async run(sub: SubscriptionRecord, job: ReconcileJob): Promise<JobResult> {
    const { desired } = sub;
    const op = operationFor(sub);
    const { kind, generation } = op;
    const stack = stackNameOf(sub.id);
    // Whether an operation of this subscription began before this one (asked only while nothing is recorded).
    const operatedBefore = sub.outputs === null ? await this.o.store.everOperated(sub.id) : true;
    const nothing = op.kind === "destroy" && nothingToDestroy(sub, operatedBefore);
    const missing = nothing ? [] : (this.o.readiness?.() ?? []);
    if (missing.length > 0) {
      // Not the customer's fault and not a transient failure: no operation begins, no attempt is spent.
      const next = await this.o.store.waitForConfiguration(sub.id, missing);
      this.o.log.warn("operation waits for configuration", { subscription: sub.id, stack, kind, missing });
      return { kind: "done", next };
    }
    const held = nothing ? null : ((await this.o.hold?.(sub, kind)) ?? null);
    if (held) {
      const next = await this.o.store.waitForConfiguration(sub.id, held.reasons, held.what);
      this.o.log.warn(`operation waits for ${held.what}`, { subscription: sub.id, stack, kind, reasons: held.reasons });
      return { kind: "done", next };
    }
    const begun = await this.o.store.beginOperation(sub.id, generation, kind, op.eventId, this.owner);
    const opId = begun.id;
    let message = `${op.cause} (subscription ${sub.id}, generation ${generation}${begun.interrupted ? `; after interrupted operation ${begun.interrupted.id}` : ""})`;
    const progress = this.o.progress;
    progress?.open(opId, { subscription: sub.id, stack, kind });
    const sinks = progress
      ? { onOutput: (line: string) => progress.output(opId, line), onProgress: (p: Parameters<ProgressHub["resource"]>[1]) => progress.resource(opId, p) }
      : {};
    const started = Date.now();
    const fields = { subscription: sub.id, stack, event: desired.lastEvent.id, operation: opId, kind, attempt: job.retryCount + 1 };

    /** The one place an outcome is recorded (one store write), shown, counted and logged. */
    const report = async (outcome: OperationOutcome, exhausted = false): Promise<JobResult> => {
      const next = await this.o.store.recordOutcome({ id: opId, subscription: sub.id, generation }, outcome);
      const durationMs = Date.now() - started;
      // A hold stops before the engine runs: it is not an engine operation.
      if (outcome.result !== "held") {
        const result = outcome.result === "retrying" ? "retried" : outcome.result;
        this.o.metrics?.operations.inc({ kind, result });
        this.o.metrics?.operationDuration.observe({ kind, result }, durationMs / 1000);
      }
      switch (outcome.result) {
        case "succeeded":
          progress?.finish(opId, "succeeded", null);
          this.o.log.info("operation", { ...fields, result: "succeeded", durationMs, changes: outcome.summary.resourceChanges });
          if (sub.refreshNext) this.o.onRepaired?.(sub.id);
          return { kind: "done", next };
        case "retrying": {
          const delayMs = this.o.retryDelayMs?.(job);
          if (delayMs !== undefined) progress?.retry(opId, { attempt: job.retryCount + 2, delayMs, error: outcome.error });
          progress?.finish(opId, "failed", `${outcome.error} (will retry)`);
          this.o.log.warn("operation", { ...fields, result: "retrying", durationMs, error: outcome.error });
          return { kind: "retry", error: outcome.error };
        }
        case "failed":
          progress?.finish(opId, "failed", outcome.error);
          this.o.log.error("operation", { ...fields, result: "failed", durationMs, error: outcome.error });
          return { kind: "failed", error: outcome.error, exhausted };
        case "held":
          progress?.finish(opId, "failed", outcome.reason);
          this.o.log.warn("operation", { ...fields, result: "held", durationMs, error: outcome.reason });
          return { kind: "done", next };
      }
    };

    for (let lockRecovered = false; ; ) {
      try {
        const projectId = sub.outputs?.projectId;
        if (this.o.guard && projectId) {
          if (kind === "up") {
            const refused = await this.o.guard.beforeUp(projectId, tenantSpecOf(desired, this.o.settings));
            // Not transient: the same plan will not fit until the customer frees resources or buys more.
            if (refused) throw new EngineFailure(refused, false);
          } else {
            const cancellation = await this.o.guard.beforeDestroy(projectId, (step) => {
              progress?.output(opId, step);
              this.o.log.info("purge", { ...fields, step });
            }, tenantSpecOf(desired, this.o.settings).target);
            if (cancellation) return await report({ result: "held", reason: cancellation.held });
          }
        }
        // The operator requests this operation carried (as the subscription was when it began): done once it succeeds.
        const carried = { rotatePassword: sub.rotatePassword, refresh: sub.refreshNext };
        if (nothing) {
          progress?.output(opId, "no operation ever began on this subscription: nothing of it exists to destroy");
          return await report({ result: "succeeded", outputs: null, carried, summary: { resourceChanges: {} }, declaration: null });
        }
        if (kind === "destroy") return await report({ result: "succeeded", outputs: null, carried, summary: await this.o.engine.destroy({ stack, message, ...sinks }), declaration: null });
        return await report({ result: "succeeded", carried, ...(await this.up(sub, { stack, message, opId, interrupted: begun.interrupted !== null, operatedBefore, sinks, fields })) });
      } catch (e) {
        const failure = e instanceof EngineFailure ? e : asFailure(e);
        if (!lockRecovered && failure.locks.length > 0 && failure.locks.every((l) => isOrphaned(l))) {
          // Every lock was written by a `pulumi` process of this host that is gone: provably dead, safe to
          // remove, and said so in the history. A live one (ours, a replica's, an operator's) is waited for.
          lockRecovered = true;
          await this.o.engine.breakLocks(stack, failure.locks);
          const owners = failure.locks.map((l) => `pid ${l.pid} on ${l.hostname}`).join(", ");
          message = `${message.slice(0, -1)}; cancelled the stack lock left by ${owners}, no longer running)`;
          this.o.log.warn("stack lock recovered", { ...fields, interrupted: begun.interrupted?.id, locks: failure.locks });
          progress?.output(opId, `recovered the stack lock left by ${owners}`);
          continue;
        }
        if (failure.transient && job.retryCount < job.retryLimit && !this.stopped()) return await report({ result: "retrying", error: failure.message });
        return await report({ result: "failed", error: failure.message }, failure.transient);
      }
    }
  }

  /**
   * One `up` with what goes around it: adopting what an interrupted create left, the password, and the
   * cloud-side corrections after it. Returns the summary, the outputs to record and the message as it ended.
   */
  private async up(
    sub: SubscriptionRecord,
    o: { stack: string; message: string; opId: number; interrupted: boolean; operatedBefore: boolean; sinks: Pick<Parameters<Engine["up"]>[0], "onOutput" | "onProgress">; fields: Record<string, unknown> },
  ): Promise<{ summary: OperationSummary; outputs: RecordedOutputs | null; declaration: Declaration }> {
    const { stack, opId, fields } = o;
    const progress = this.o.progress;
    const spec = tenantSpecOf(sub.desired, this.o.settings);
    let message = o.message;
    // The password lives in the stack's outputs, in the shared backend: any replica, whatever its
    // work tree, applies the same one. A new one only on the first create or an operator's rotation.
    // A subscription no operation ever began on has no stack to read (a purchase's first attempt: the read
    // would be a CLI start refused with "no stack"). After any earlier attempt the stack is read even with
    // nothing recorded: that attempt's update may have finished without us (its answer lost, or its
    // `pulumi` outliving a killed service), and its password must be kept, not replaced.
    const earlier = o.interrupted || o.operatedBefore;
    let current = earlier ? await this.o.engine.outputs(stack) : null;
    if (this.o.guard && (o.interrupted || !current)) {
      // A project and user Keystone has but the state lacks make the next create of `sub-<id>` a 409 for
      // good. An interrupted run leaves them as pending creates; so does a create whose answer was lost (a
      // 502 or EOF after Keystone committed: a transient failure, retried) or whose engine host died on
      // its own, without pending operations. So whenever the state holds no tenant yet after an earlier
      // attempt, Keystone is asked (two reads by name), and what it has is adopted before the update. The
      // first attempt of a purchase asks nothing (no attempt before it could have left anything): a name
      // another project took makes it fail, and its retry then names that project.
      const found = earlier ? await this.o.guard.leftoversOf(spec) : {};
      if (o.interrupted || found.projectId || found.userId) {
        const adopted = await this.o.engine.adopt({ stack, message, found });
        if (adopted.length > 0) {
          const by = o.interrupted ? "it" : "an earlier attempt";
          message = `${message.slice(0, -1)}; adopted ${adopted.join(", ")} left by ${by})`;
          progress?.output(opId, `adopted what ${o.interrupted ? "the interrupted operation" : "an earlier attempt"} created: ${adopted.join(", ")}`);
          this.o.log.warn("adopted leftovers of an earlier create", { ...fields, adopted, interrupted: o.interrupted });
          current = await this.o.engine.outputs(stack);
        }
      }
    }
    const password = !current || sub.rotatePassword ? generatePassword() : current.password;
    if (current && sub.rotatePassword) message = `${message.slice(0, -1)}; password rotated)`;
    const { outputs: upOutputs, quotaSets: readBack, ...summary } = await this.o.engine.up({ stack, message, spec, password, refresh: sub.refreshNext, exists: current !== null, ...o.sinks });
    const outputs = upOutputs !== undefined ? upOutputs : await this.o.engine.outputs(stack);
    if (outputs && this.o.guard?.afterUp) {
      // The provider may not set what it was told (Neutron's create drops zero values): the tenant must
      // end with exactly what was bought, so the cloud is corrected, then the state reads it back.
      const corrected = await this.o.guard.afterUp(outputs.projectId, spec, readBack);
      if (corrected.length > 0) {
        this.o.log.warn("quotas corrected after the update", { ...fields, corrected });
        progress?.output(opId, `quotas corrected: ${corrected.join("; ")}`);
        await this.o.engine.refresh({ stack, message: `${message.slice(0, -1)}; quotas corrected: ${corrected.join("; ")})` });
      }
    }
    if (outputs && this.o.guard?.power && current) {
      // Keystone's enabled flag stops logins, not running servers: a suspension stops them too, and
      // the resumption starts exactly those it stopped. A tenant made by this update has no server to
      // look for (its customer never had its credentials).
      for (const step of await this.o.guard.power(outputs.projectId, spec.enabled, spec.target)) {
        progress?.output(opId, step);
        this.o.log.info("server power", { ...fields, step });
      }
    }
    const declaration = { spec, programVersion: this.o.programVersion, hash: declarationHash(spec, this.o.programVersion) };
    return { summary, outputs: outputs ? recordedOf(outputs) : null, declaration };
  }
}

/** A cloud that cannot be reached or answers 5xx is worth a retry; anything else is not. */
function asFailure(e: unknown): EngineFailure {
  const message = e instanceof Error ? e.message : String(e);
  return new EngineFailure(message, e instanceof AppError && e.kind === "unavailable");
}
