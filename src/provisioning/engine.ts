import type { TenantSpec } from "../domain/tenant-spec.js";

/**
 * The one seam between orchestration and Pulumi: the Automation API in production
 * (pulumi-engine.ts), a recording double in tests. Stack names are `sub-<id>`.
 */
export interface Engine {
  /** Writes the spec into the stack's config (creating the stack and its password if new) and applies it. */
  up(req: StackChange): Promise<OperationSummary>;
  preview(req: Omit<StackChange, "message">): Promise<PreviewResult>;
  /** Deletes the tenant's resources; the stack and its history stay as the audit log. */
  destroy(req: { stack: string; message: string; onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<OperationSummary>;
  refresh(req: { stack: string; message: string; onOutput?: OutputSink }): Promise<OperationSummary>;
  history(stack: string): Promise<HistoryEntry[]>;
  /** Current outputs, the password included (only the credentials endpoint asks for it); null if no stack. */
  outputs(stack: string): Promise<StackOutputs | null>;
  /**
   * What the cloud looks like next to the stack's last known state (`refresh --preview-only`): changes
   * nothing, in the cloud or in the state. Null when the stack does not exist.
   */
  drift(stack: string): Promise<DriftReport | null>;
  /** Removes the lock an interrupted update left on the stack (`pulumi cancel`). Only for provably dead owners. */
  cancel(stack: string): Promise<void>;
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

export interface DriftDifference {
  resource: string;
  type: string;
  /** update: properties changed outside the stack; delete: the resource is gone from the cloud. */
  change: string;
  /** The property paths that differ, e.g. ["cores", "ram"]. */
  properties: string[];
}
export interface DriftReport {
  differences: DriftDifference[];
}

export interface StackChange {
  stack: string;
  spec: TenantSpec;
  /** Names the marketplace event: the stack history reads as an audit log. */
  message: string;
  onOutput?: OutputSink;
  onProgress?: ProgressSink;
}

export interface OperationSummary {
  /** Pulumi's resource change counts, e.g. { create: 6 } or { same: 5, update: 1 }. */
  resourceChanges: Record<string, number>;
}

export interface PreviewResult {
  changeSummary: Record<string, number>;
  /** Pulumi's human-readable diff. */
  text: string;
}

export interface HistoryEntry {
  version: number;
  kind: string;
  message: string;
  result: string;
  startTime: string;
  endTime: string | null;
  resourceChanges: Record<string, number>;
}

export interface StackOutputs {
  projectId: string;
  userId: string;
  userName: string;
  authUrl: string;
  region: string;
  domainId: string;
  password: string;
}

/**
 * An engine failure. `transient` ones (the stack's lock held by another update, an OpenStack 5xx, a
 * network error) are retried with backoff; others leave the subscription failed with this message.
 */
export class EngineFailure extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    /** When the stack is locked: who holds the lock, as Pulumi's lock file says (host and pid). */
    readonly lockedBy?: { host: string; pid: number },
  ) {
    super(message);
    this.name = "EngineFailure";
  }
}

/** Pulumi's "the stack is currently locked … created by user@host (pid 42)": the lock's owner. */
export function lockOwnerOf(message: string): { host: string; pid: number } | undefined {
  const m = /created by [^@\s]+@([^\s]+) \(pid (\d+)\)/.exec(message);
  return m ? { host: m[1] as string, pid: Number(m[2]) } : undefined;
}
