import { createHash } from "node:crypto";
import { z } from "zod";

/** One difference a refresh preview found: a resource changed (or deleted) outside the stack. */
export const DriftDifference = z.object({
  /** The resource's logical name in the stack, and its Pulumi type token. */
  resource: z.string(),
  type: z.string(),
  /** update: properties changed outside the stack; delete: the resource is gone from the cloud. */
  change: z.string(),
  /** The property paths that differ, e.g. ["cores", "ram"]. */
  properties: z.array(z.string()),
});
export type DriftDifference = z.infer<typeof DriftDifference>;

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

/** Order-independent identity of a set of differences: accepting them accepts exactly these. Null when in sync. */
export function fingerprintOf(differences: readonly DriftDifference[]): string | null {
  if (differences.length === 0) return null;
  const canonical = differences.map((d) => `${d.resource}|${d.type}|${d.change}|${[...d.properties].sort().join(",")}`).sort();
  return createHash("sha256").update(canonical.join("\n")).digest("hex");
}
