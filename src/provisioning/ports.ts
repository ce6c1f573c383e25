import type { DriftDifference, DriftRecord } from "../domain/drift.js";
import type { Declaration, OperationKind, OperationOutcome, Phase, SubscriptionRecord } from "../domain/lifecycle.js";
import type { RolloutRecord, RolloutStackState } from "../domain/rollout.js";
import type { Amounts } from "../domain/capacity.js";

/**
 * What provisioning needs from the rest of the service, declared here and implemented by the store
 * (src/store): the reconciler and the drift detector depend on these shapes, never on a store class.
 */

/**
 * Which line a job waits in. `customer`: a marketplace event (purchase, resize, suspension, resumption,
 * cancellation), never behind operators' bulk work; `bulk`: work an operator caused (retries, drift repairs,
 * password rotations, rollouts), taken only when no customer's job waits.
 */
export type Lane = "customer" | "bulk";

/** One reconcile job: it names a subscription; the queue counts its attempts. */
export interface ReconcileJob {
  id: string;
  subscription: string;
  lane: Lane;
  /** Retries already made (0 on the first attempt) and allowed. */
  retryCount: number;
  retryLimit: number;
}

/** The reconcile queue (pg-boss in src/store/job-queue.ts): durable, one job waiting per subscription. */
export interface ReconcileQueue {
  enqueue(subscription: string, o: { lane: Lane; delaySeconds?: number }): Promise<void>;
  enqueueMany(subscriptions: readonly string[], o: { lane: Lane }): Promise<void>;
  /** The next job of `lane` ready to run, or null. */
  fetch(lane: Lane): Promise<ReconcileJob | null>;
  complete(job: ReconcileJob): Promise<void>;
  /** Fails the attempt: retried after the back-off, or dead-lettered after the last one. */
  fail(job: ReconcileJob, error: string): Promise<void>;
  /** A failure no retry can fix: straight to the dead letters. */
  deadLetter(job: ReconcileJob, error: string): Promise<void>;
  /** Jobs that could run now (not waiting for a back-off), in both lanes. */
  ready(): Promise<number>;
}

/** Locks held across every replica (database advisory locks): one operation per subscription at a time. */
export interface SubscriptionLocks {
  tryWithLock<T>(key: string, fn: () => Promise<T>): Promise<{ acquired: true; value: T } | { acquired: false }>;
}

/**
 * Fleet-wide schedules (store/fleet-schedule.ts): of the replicas whose timers fire, the one that claims a
 * schedule's run due now runs it; the next run is then due an interval later.
 */
export interface FleetSchedule {
  claim(name: string, intervalMs: number): Promise<boolean>;
}

/** An operation that began; `interrupted`: the previous one never finished (its process died). */
export interface BegunOperation {
  id: number;
  interrupted: { id: number; owner: string | null } | null;
}

/** The subscriptions' durable lifecycle, as provisioning reads and moves it. */
export interface SubscriptionLedger {
  get(id: string): Promise<SubscriptionRecord | null>;
  list(filter?: { phase?: Phase | undefined }): Promise<SubscriptionRecord[]>;
  /** A page of subscriptions by id after `after` (the sweep walks every ready one without holding them all). */
  page(o: { after?: string | undefined; limit: number; phase?: Phase | undefined }): Promise<{ items: SubscriptionRecord[]; next: string | null }>;
  /** The tenant spec the stack was last successfully updated with (domain/lifecycle.ts Declaration), or null. */
  declaredSpec(id: string): Promise<unknown>;
  /**
   * Subscriptions that need an operation (domain/lifecycle.ts `needsOperation`), by the lane of what asked
   * for it: an operator's note pending (retry, repair, rotation, rollout) is bulk work, else a customer's.
   */
  pendingByLane(): Promise<Record<Lane, string[]>>;
  /** Records the start of an operation by `owner` (host:pid:instance). */
  beginOperation(id: string, generation: number, kind: OperationKind, eventId: string, owner: string): Promise<BegunOperation>;
  /**
   * Records how an operation ended, in one transaction (the subscription as domain/lifecycle.ts
   * `operationEnded` decides at write time, the operation row, what a marketplace must hear); returns
   * the subscription as it now is, or null if it is gone.
   */
  recordOutcome(operation: { id: number; subscription: string; generation: number }, outcome: OperationOutcome): Promise<SubscriptionRecord | null>;
  /** Whether any operation ever began on this subscription (none: nothing of it can exist in the cloud). */
  everOperated(id: string): Promise<boolean>;
  /** Parks a subscription as waiting for configuration, or `what` (domain/lifecycle.ts `waitingForConfiguration`). */
  waitForConfiguration(id: string, missing: readonly string[], what?: string): Promise<SubscriptionRecord | null>;
  /** Every waiting subscription is pending again; returns them by lane, to be queued. */
  resumeWaiting(): Promise<Record<Lane, string[]>>;
}

/** Where drift checks are recorded. */
export interface DriftFindings {
  record(subscriptionId: string, differences: DriftDifference[]): Promise<DriftRecord>;
  recordFailure(subscriptionId: string, error: string): Promise<void>;
}

/** A ready stack's subscription and what its stack was last updated with: what a rollout plan compares. */
export interface ReadyDeclaration {
  id: string;
  desired: SubscriptionRecord["desired"];
  declared: Declaration | null;
}

/** The declarations of ready stacks, paged by subscription id (`after`: the last id of the page before). */
export interface DeclarationSource {
  readyDeclarations(after: string | null, limit: number): Promise<ReadyDeclaration[]>;
}

/** A rollout to store, and each stack it changes with its wave and the changes it gets (one line). */
export type NewRollout = Pick<RolloutRecord, "waves" | "waveSizes" | "maxFailures" | "pauseSeconds" | "programVersion" | "groups" | "startedBy">;
export interface NewRolloutStack {
  subscriptionId: string;
  wave: number;
  changes: string;
}

/** Stacks of a rollout per wave and state. */
export interface WaveCount {
  wave: number;
  state: RolloutStackState;
  count: number;
}

/** A queued stack, with its subscription as it now is (the runner decides what became of it). */
export interface QueuedStack {
  rolloutId: number;
  subscriptionId: string;
  marked: number;
  phase: Phase;
  cancelled: boolean;
  generation: number;
  appliedGeneration: number;
  lastError: string | null;
}

/** Rollouts as provisioning moves them (src/store/rollout-store.ts). */
export interface RolloutLedger {
  /** Stores a new rollout and its stacks (all waiting), in wave 0; null if another one is not finished. */
  create(rollout: NewRollout, stacks: readonly NewRolloutStack[]): Promise<RolloutRecord | null>;
  get(id: number): Promise<RolloutRecord | null>;
  list(limit?: number): Promise<RolloutRecord[]>;
  /** The rollouts the runner moves: running or pausing. */
  moving(): Promise<RolloutRecord[]>;
  update(id: number, patch: Partial<Pick<RolloutRecord, "state" | "wave" | "pauseUntil" | "reason" | "maxFailures">>): Promise<RolloutRecord | null>;
  counts(id: number): Promise<WaveCount[]>;
  failures(id: number, limit: number): Promise<Array<{ subscriptionId: string; wave: number; reason: string | null }>>;
  /**
   * Marks up to `limit` waiting stacks of a wave for an update (an operator's reapply with the message
   * `noteOf` gives it, queued on the bulk lane in the same transaction) or skips them, as `decide` says
   * from the subscription as it is under its row lock. Returns how many it took (0: none left waiting).
   */
  queueWave(
    id: number,
    wave: number,
    limit: number,
    decide: (sub: SubscriptionRecord, declaredHash: string | null, changes: string) => { note: string } | { skip: string },
  ): Promise<number>;
  /** Queued stacks (of any rollout) whose subscription changed since they were last looked at. */
  queuedChanged(limit: number): Promise<QueuedStack[]>;
  settle(outcomes: ReadonlyArray<{ rolloutId: number; subscriptionId: string; state: RolloutStackState; reason: string | null }>): Promise<void>;
  /** Stacks of `id` not yet queued become skipped with `reason` (an abort). */
  skipWaiting(id: number, reason: string): Promise<number>;
}

/**
 * Who goes first on a database that runs one statement at a time (the embedded store's scheduler): a
 * customer's operation `ahead` of background work; `ordinary` whatever context it is called from, for
 * what only follows one (a job loop it kicked, an operator's job that loop starts). The mark travels with
 * everything the function awaits and starts: start no long-lived work inside `ahead`.
 */
export interface DbPriority {
  ahead<T>(fn: () => Promise<T>): Promise<T>;
  ordinary<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * What has been sold, from the subscriptions' desired states (the store answers with one aggregate query,
 * never a quota read per project): the prepaid plans of every subscription not cancelled.
 */
export interface SoldLedger {
  /** Per target (the default's name for plans naming none). `except`: leave one subscription out. */
  soldByTarget(defaultTarget: string, o?: { except?: string; target?: string; withoutWaiting?: boolean }): Promise<Map<string, Amounts>>;
}

