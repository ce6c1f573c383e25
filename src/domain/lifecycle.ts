import { z } from "zod";
import { DesiredState } from "./subscription.js";

/**
 * The lifecycle of a subscription's tenant, as pure transitions over plain records: what every event,
 * operation outcome and operator request does to the phase, the generations and the pending requests.
 * The store persists what these functions decide (reading the row it changes under a lock, so the
 * decision sees the row as it is at write time); no phase is decided anywhere else.
 *
 * `generation` counts desired states that need a stack update; `appliedGeneration` is the newest one a
 * successful operation applied. A subscription is *behind* while generation > appliedGeneration.
 */

/**
 * pending: behind, waiting for its operation; applying: an operation runs; ready: applied;
 * failed: the last operation failed for good (the next event or an operator's retry lifts it);
 * held: a cancellation waits for an operator because the project still has resources (ORPHAN_POLICY=hold);
 * waiting: behind, but the service cannot provision yet (no pulumi CLI, no admin credentials, its target
 * down or without room for it): not the customer's fault and not a failure; it resumes by itself once the
 * configuration is complete, the target answers again or room appears;
 * cancelled: destroyed, final.
 */
export const Phase = z.enum(["pending", "applying", "ready", "failed", "held", "waiting", "cancelled"]);
export type Phase = z.infer<typeof Phase>;

/** Behind, but waiting for an event or an operator rather than for the queue (the scan skips them). */
export const PARKED_PHASES = ["failed", "held", "waiting"] as const satisfies readonly Phase[];

/** A stack's outputs (src/program/tenant.ts exports them), the customer's password included. */
export const StackOutputs = z.object({
  projectId: z.string(),
  userId: z.string(),
  userName: z.string(),
  authUrl: z.string(),
  region: z.string(),
  domainId: z.string(),
  password: z.string(),
});
export type StackOutputs = z.infer<typeof StackOutputs>;

/** The outputs as recorded after a successful update: never the password (it stays in the stack's state). */
export const RecordedOutputs = StackOutputs.omit({ password: true });
export type RecordedOutputs = z.infer<typeof RecordedOutputs>;

export const recordedOf = (outputs: StackOutputs): RecordedOutputs => RecordedOutputs.parse(outputs);

export const OperationKind = z.enum(["up", "destroy"]);
export type OperationKind = z.infer<typeof OperationKind>;

export const OperationRecord = z.object({
  id: z.coerce.number(),
  kind: z.string(),
  eventId: z.string(),
  generation: z.number(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  result: z.enum(["running", "succeeded", "failed"]),
  error: z.string().nullable(),
});
export type OperationRecord = z.infer<typeof OperationRecord>;

export const SubscriptionRecord = z.object({
  id: z.string(),
  desired: DesiredState,
  generation: z.number(),
  appliedGeneration: z.number(),
  phase: Phase,
  lastError: z.string().nullable(),
  outputs: RecordedOutputs.nullable(),
  /** Only for a subscription made before tokens were derived (generation 0): the hash of its random token. */
  tokenHash: z.string().nullable(),
  /** Which customer token opens it: only the newest generation's works (see api/tokens.ts). */
  tokenGeneration: z.number(),
  /** Why the next operation runs when no event asked for it (operator retry, drift repair): its stack message. */
  pendingNote: z.string().nullable(),
  /** The next operation generates a new password for the customer (an operator asked for it). */
  rotatePassword: z.boolean(),
  /** The next operation refreshes from the cloud before it diffs (a drift repair). */
  refreshNext: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SubscriptionRecord = z.infer<typeof SubscriptionRecord>;

/** The part of a subscription its lifecycle reads and writes. */
export type Lifecycle = Pick<
  SubscriptionRecord,
  "desired" | "generation" | "appliedGeneration" | "phase" | "lastError" | "outputs" | "pendingNote" | "rotatePassword" | "refreshNext"
>;

/** Behind its desired state and not parked: an operation should run (the queue's scan and depth count these). */
export function needsOperation(s: Lifecycle): boolean {
  return s.generation > s.appliedGeneration && !(PARKED_PHASES as readonly Phase[]).includes(s.phase);
}

/** A subscription's first event: a desired state to apply (generation 1), nothing applied yet. */
export function subscriptionCreated(desired: DesiredState, now: string): SubscriptionRecord {
  return {
    id: desired.id, desired, generation: 1, appliedGeneration: 0, phase: "pending", lastError: null, outputs: null,
    tokenHash: null, tokenGeneration: 1, pendingNote: null, rotatePassword: false, refreshNext: false, createdAt: now, updatedAt: now,
  };
}

/**
 * An event was folded into the desired state (domain/subscription.ts `foldEvent`, outcome "applied").
 * A change needs a new stack update; any applied event also lifts a failure (the next event resumes),
 * but not a hold: a held cancellation waits for an operator (a cancelled subscription takes no change).
 */
export function eventApplied<S extends Lifecycle>(s: S, folded: { state: DesiredState; changed: boolean }): S {
  return {
    ...s,
    desired: folded.state,
    generation: s.generation + (folded.changed ? 1 : 0),
    phase: folded.changed || s.phase === "failed" ? "pending" : s.phase,
  };
}

/** The operation that brings `s` to its desired state: a destroy for a cancellation, else an update. */
export function operationFor(s: Lifecycle): { kind: OperationKind; generation: number; eventId: string; cause: string } {
  return {
    kind: s.desired.status === "cancelled" ? "destroy" : "up",
    generation: s.generation,
    eventId: s.desired.lastEvent.id,
    // The stack history is the audit log: an update names the event, or the operator's reason, that asked for it.
    cause: s.pendingNote ?? `${s.desired.lastEvent.id} ${s.desired.lastEvent.type}`,
  };
}

/** What beginning an operation changes, whatever the row holds (so the store may write it without reading). */
export const BEGUN = { phase: "applying", pendingNote: null } as const satisfies Partial<Lifecycle>;

/** An operation began: the note it carries is consumed (it is in the stack's message now). */
export function operationBegun<S extends Lifecycle>(s: S): S {
  return { ...s, ...BEGUN };
}

/**
 * What a stack was last successfully updated with: the tenant spec, the version of the program that
 * declared it (provisioning/program-version.ts) and their hash (domain/rollout.ts `declarationHash`). A
 * rollout compares it with what the service would declare now.
 */
export interface Declaration {
  spec: unknown;
  programVersion: string;
  hash: string;
}

/** How an operation ended, as the reconciler saw it. */
export type OperationOutcome =
  /**
   * `summary`: Pulumi's resource change counts, e.g. { create: 6 }. `declaration`: what the stack now
   * declares; null after a destroy (nothing); absent: left as recorded.
   */
  | {
      result: "succeeded";
      outputs: RecordedOutputs | null;
      summary: { resourceChanges: Record<string, number> };
      declaration?: Declaration | null;
      /** The operator requests it began with (and so carried out); absent: all of them. */
      carried?: { rotatePassword: boolean; refresh: boolean };
    }
  /** Transient: the queue retries it with back-off. */
  | { result: "retrying"; error: string }
  /** For good (or out of retries): left visible until an event or an operator. */
  | { result: "failed"; error: string }
  /** A cancellation waits for an operator: the project still has resources. */
  | { result: "held"; reason: string };

/** What recording an outcome writes: the subscription, its operation row, and what else goes with it. */
export interface OutcomeDecision<S extends Lifecycle> {
  next: S;
  operation: { result: "succeeded" | "failed"; error: string | null };
  /** The drift finding goes: after a destroy there is nothing left to drift. */
  dropDrift: boolean;
  /** What a marketplace hears (the outcome hook): only a success or a failure for good. */
  report: "succeeded" | "failed" | null;
  /** The stack's declaration to record (null: cleared); undefined: unchanged (only a success changes it). */
  declaration?: Declaration | null;
}

/**
 * An operation on `generation` ended; `current` is the subscription as it is now, at write time: a newer
 * event may have arrived during the operation, and then the subscription stays pending (a failure never
 * hides a newer desired state; a success of an older generation is not the newest one applied).
 */
export function operationEnded<S extends Lifecycle>(current: S, generation: number, outcome: OperationOutcome): OutcomeDecision<S> {
  const newer = current.generation > generation;
  switch (outcome.result) {
    case "succeeded":
      return {
        next: {
          ...current,
          appliedGeneration: Math.max(current.appliedGeneration, generation),
          outputs: outcome.outputs ?? current.outputs,
          lastError: null,
          // The requests this operation carried are done; one made while it ran (it began without it) stays
          // for the next operation. A request for what it already carries counts as done by it.
          rotatePassword: current.rotatePassword && !(outcome.carried?.rotatePassword ?? true),
          refreshNext: current.refreshNext && !(outcome.carried?.refresh ?? true),
          phase: newer ? "pending" : current.desired.status === "cancelled" ? "cancelled" : "ready",
        },
        operation: { result: "succeeded", error: null },
        // A finding stays after an update (an update without refresh neither sees nor repairs drift): only a
        // check finding the stack in sync clears it, or a destroy, after which there is nothing to drift.
        dropDrift: current.desired.status === "cancelled",
        report: "succeeded",
        ...(outcome.declaration !== undefined ? { declaration: outcome.declaration } : {}),
      };
    case "retrying":
      return {
        next: { ...current, lastError: outcome.error, phase: "pending" },
        operation: { result: "failed", error: `${outcome.error} (will retry)` },
        dropDrift: false,
        report: null,
      };
    case "failed":
      return {
        next: { ...current, lastError: outcome.error, phase: newer ? "pending" : "failed" },
        operation: { result: "failed", error: outcome.error },
        dropDrift: false,
        report: "failed",
      };
    case "held":
      return {
        next: { ...current, lastError: outcome.reason, phase: "held" },
        operation: { result: "failed", error: outcome.reason },
        dropDrift: false,
        report: null,
      };
  }
}

/**
 * An operation was due but the service cannot provision yet: parked as waiting, with what is missing
 * (no operation began, so no attempt was spent and nothing goes to the dead letters).
 */
export function waitingForConfiguration<S extends Lifecycle>(s: S, missing: readonly string[], what = "configuration"): S {
  return { ...s, phase: "waiting", lastError: `waiting for ${what}: ${missing.join("; ")}` };
}

/** The configuration is complete: a waiting subscription is pending again (its queued job applies it). */
export function configurationReady<S extends Lifecycle>(s: S): S {
  return s.phase === "waiting" ? { ...s, phase: "pending", lastError: null } : s;
}

/**
 * A cancellation of a subscription no operation ever began on: nothing can exist in the cloud, so it is
 * done without the engine (and so whether or not the service can provision).
 */
export function nothingToDestroy(s: Lifecycle, everOperated: boolean): boolean {
  return s.desired.status === "cancelled" && s.appliedGeneration === 0 && s.outputs === null && !everOperated;
}

/** What an operator asks besides applying again: a drift repair refreshes first; a rotation makes a new password. */
export interface ReapplyRequest {
  note: string;
  refresh?: boolean;
  rotatePassword?: boolean;
}

/**
 * Operator retry, drift repair or password rotation: apply the desired state again. A subscription not
 * behind gets a new generation (there is nothing pending to carry the request); one already behind keeps
 * its generation, and its next operation carries the note and the requests. Lifts failed and held.
 * While an operation runs with nothing newer behind it (phase `applying`), the request gets a generation
 * of its own: that operation began without it, so its success must neither clear the request nor count
 * as it (pending, as after an event that arrives during an operation).
 */
export function reapplyRequested<S extends Lifecycle>(s: S, r: ReapplyRequest): S {
  const running = s.phase === "applying";
  return {
    ...s,
    phase: "pending",
    pendingNote: r.note,
    generation: s.generation > s.appliedGeneration && !running ? s.generation : s.generation + 1,
    refreshNext: s.refreshNext || (r.refresh ?? false),
    rotatePassword: s.rotatePassword || (r.rotatePassword ?? false),
  };
}
