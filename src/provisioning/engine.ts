import { z } from "zod";
import type { DriftDifference } from "../domain/drift.js";
import type { StackOutputs } from "../domain/lifecycle.js";
import type { QuotaReadBack } from "../domain/quota.js";
import type { TenantSpec } from "../domain/tenant-spec.js";
import { locksOf, type StackLock } from "./stack-lock.js";

/**
 * The one seam between orchestration and Pulumi: the Automation API in production
 * (pulumi-engine.ts), a recording double in tests. Stack names are `sub-<id>`.
 */
export interface Engine {
  /** Writes the spec and the password into the stack's config (creating the stack if new) and applies it. */
  up(req: StackChange): Promise<UpResult>;
  /**
   * What an update to `spec` would change. Never creates the stack and never changes its config (a preview
   * racing a first update must not init the stack twice or write a second password).
   */
  preview(req: { stack: string; spec: TenantSpec }): Promise<PreviewResult>;
  /** Deletes the tenant's resources; the stack and its history stay as the audit log. */
  destroy(req: { stack: string; message: string; onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<OperationSummary>;
  /**
   * Reads every resource back from the cloud into the state: after the tenant guard corrected the cloud
   * itself (`TenantGuard.afterUp`, Neutron's dropped zero quotas), so the state holds what is there.
   */
  refresh(req: { stack: string; message: string; onOutput?: OutputSink }): Promise<OperationSummary>;
  /**
   * After an interrupted create: drops the pending creates the dead run left in the state and imports the
   * resources it did create (found in the cloud by the caller), so that the next `up` adopts them instead
   * of creating `sub-<id>` a second time (Keystone names are unique per domain: that would be a 409).
   */
  adopt(req: { stack: string; message: string; found: Leftovers }): Promise<string[]>;
  history(stack: string): Promise<HistoryEntry[]>;
  /** Current outputs, the password included (only the credentials endpoint asks for it); null if no stack. */
  outputs(stack: string): Promise<StackOutputs | null>;
  /**
   * What the cloud looks like next to the stack's last known state (`refresh --preview-only`): changes
   * nothing, in the cloud or in the state. Null when the stack does not exist.
   */
  drift(stack: string): Promise<DriftReport | null>;
  /**
   * Removes exactly these locks, left by updates whose `pulumi` process is provably dead (the caller
   * checked), and no other: a lock taken since (an operator's, a replica's) stays.
   */
  breakLocks(stack: string, locks: StackLock[]): Promise<void>;
}

/** What the service needs of the real engine, as the health check and `doctor` report it. */
export const EngineCheck = z.object({
  /** `pulumi vX.Y.Z`, or null when no usable CLI is on PATH (missing, too old, broken). */
  cli: z.string().nullable(),
  /** One line each, for the operator: the CLI missing or too old, the provider plugin not installed. */
  problems: z.array(z.string()),
  /**
   * Of `problems`, those positively seen that fail every update while they last (the provider plugin not
   * installed, the language host missing): purchases wait for them instead of failing (readiness.ts).
   */
  blocking: z.array(z.string()),
  /** The version of a CLI older than the engine needs (the service refuses to start with it), else null. */
  cliTooOld: z.string().nullable(),
  /** The OpenStack provider plugin the engine would run, said plainly (provider-build.ts); absent when none is found. */
  provider: z.string().optional(),
});
export type EngineCheck = z.infer<typeof EngineCheck>;

/** What an interrupted create may have left in Keystone: ids of the project and user named after the stack. */
export interface Leftovers {
  projectId?: string | undefined;
  userId?: string | undefined;
}

export type OutputSink = (line: string) => void;

/** Progress of one resource in a running operation (from the engine's event stream). */
export interface ResourceProgress {
  /** The resource's logical name (last part of its URN) and Pulumi type token. */
  name: string;
  type: string;
  /** Pulumi's step: create, update, same, delete, replace... */
  op: string;
  state: "started" | "done" | "failed";
}
export type ProgressSink = (p: ResourceProgress) => void;

export interface DriftReport {
  differences: DriftDifference[];
}

export interface StackChange {
  stack: string;
  spec: TenantSpec;
  /**
   * The customer's Keystone password. Decided by the caller from the stack's own outputs (the shared
   * backend), never from a local config file: any replica, with any work tree, keeps the same password.
   */
  password: string;
  /** Names the marketplace event: the stack history reads as an audit log. */
  message: string;
  /**
   * Read the cloud before diffing (`up --refresh`). Without it Pulumi diffs the program against the last
   * saved state only, so a change made outside the stack (drift) is neither seen nor put back.
   */
  refresh?: boolean;
  /**
   * The caller read the stack's outputs before (so the stack exists): the update is one CLI start. Otherwise
   * the engine creates the stack first (an existing one is fine), which saves a refused `up` on a purchase.
   */
  exists?: boolean;
  onOutput?: OutputSink;
  onProgress?: ProgressSink;
}

export interface OperationSummary {
  /** Pulumi's resource change counts, e.g. { create: 6 } or { same: 5, update: 1 }. */
  resourceChanges: Record<string, number>;
}

/**
 * An update's summary, and the stack's outputs as it left them when the engine has them at hand (the
 * automation SDK reads them after every `up`): the caller then need not read them again (a `stack select`
 * and two `stack output` runs, 1.4 s of CLI time an update in bench/real-engine.ts). Absent: ask outputs().
 */
export interface UpResult extends OperationSummary {
  outputs?: StackOutputs | null;
  /** The quota sets the update wrote, as the provider read them back (absent: this engine does not say). */
  quotaSets?: QuotaReadBack;
}

export interface PreviewResult {
  changeSummary: Record<string, number>;
  /** Pulumi's human-readable diff. */
  text: string;
}

/** One update of a stack as Pulumi's history keeps it: the audit log (its message names the cause). */
export const HistoryEntry = z.object({
  version: z.number().int(),
  kind: z.string(),
  message: z.string(),
  result: z.string(),
  startTime: z.string(),
  endTime: z.string().nullable(),
  resourceChanges: z.record(z.string(), z.number()),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/**
 * An engine failure. `transient` ones (the stack's lock held by another update, an OpenStack 5xx, a
 * network error) are retried with backoff; others leave the subscription failed with this message.
 */
export class EngineFailure extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    /** When the stack is locked: who holds the lock, as Pulumi's lock files say (the CLI's host and pid). */
    readonly locks: StackLock[] = [],
  ) {
    super(message);
    this.name = "EngineFailure";
  }
}

/** The failure of an update refused because the stack is locked, with the lock holders from the message. */
export function lockedFailure(message: string): EngineFailure {
  return new EngineFailure(`the stack is locked by another update: ${message}`, true, locksOf(message));
}
