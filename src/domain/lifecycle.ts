import { z } from "zod";
import { DesiredState } from "./subscription.js";

/** held: a cancellation waits for an operator because the project still has resources (ORPHAN_POLICY=hold). */
export const Phase = z.enum(["pending", "applying", "ready", "failed", "held", "cancelled"]);
export type Phase = z.infer<typeof Phase>;

/** Non-secret stack outputs, as recorded after a successful update. The password is never stored here. */
export const RecordedOutputs = z.object({
  projectId: z.string(),
  userId: z.string(),
  userName: z.string(),
  authUrl: z.string(),
  region: z.string(),
  domainId: z.string(),
});
export type RecordedOutputs = z.infer<typeof RecordedOutputs>;

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

