import { z } from "zod";

export const DriftDifference = z.object({
  resource: z.string(),
  type: z.string(),
  change: z.string(),
  properties: z.array(z.string()),
});

/**
 * in_sync: the cloud matches the stack; drifted: it does not, and no operator has decided;
 * accepted: an operator accepted exactly these differences (a new difference makes it drifted again);
 * failed: the check itself failed (the error says why).
 */
export const DriftState = z.enum(["in_sync", "drifted", "accepted", "failed"]);
export type DriftState = z.infer<typeof DriftState>;

export const DriftRecord = z.object({
  subscriptionId: z.string(),
  checkedAt: z.string(),
  state: DriftState,
  differences: z.array(DriftDifference),
  acceptedAt: z.string().nullable(),
  error: z.string().nullable(),
});
export type DriftRecord = z.infer<typeof DriftRecord>;

