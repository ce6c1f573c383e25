import { z } from "zod";
import { TargetName } from "./target.js";

const Quantity = z.number().int().positive();

/** A prepaid plan: the customer bought exactly these quantities; quotas enforce them. */
export const PrepaidPlan = z.object({
  model: z.literal("prepaid"),
  cores: Quantity,
  ramGb: Quantity,
  diskGb: Quantity,
  floatingIps: z.number().int().nonnegative(),
  /** Where the tenant is: a target of TARGETS_FILE (domain/target.ts); absent, the default target. */
  target: TargetName.optional(),
});

/**
 * Pay-as-you-go: quotas come from operator ceilings, usage is billed from Gnocchi. A `trial` (a
 * marketplace's trial or sandbox subscription) has the same tenant but its hours are never billed; the
 * conversion to a paid subscription starts the billed hours afresh (Cloudesire resets metrics then).
 */
export const PaygPlan = z.object({ model: z.literal("payg"), trial: z.literal(true).optional(), target: TargetName.optional() });

export const Plan = z.discriminatedUnion("model", [PrepaidPlan, PaygPlan]);
export type Plan = z.infer<typeof Plan>;
export type PrepaidPlan = z.infer<typeof PrepaidPlan>;

/** Operator limits for what a prepaid plan may buy, and the ceilings that bound a PAYG tenant. */
export const PlanLimits = z.object({
  maxCores: Quantity,
  maxRamGb: Quantity,
  maxDiskGb: Quantity,
  maxFloatingIps: z.number().int().nonnegative(),
});
export type PlanLimits = z.infer<typeof PlanLimits>;

export type Quantities = Omit<PrepaidPlan, "model" | "target">;

/** What a plan entitles the tenant to: the bought quantities, or the PAYG ceilings. */
export function entitlement(plan: Plan, limits: PlanLimits): Quantities {
  if (plan.model === "payg") {
    return { cores: limits.maxCores, ramGb: limits.maxRamGb, diskGb: limits.maxDiskGb, floatingIps: limits.maxFloatingIps };
  }
  return { cores: plan.cores, ramGb: plan.ramGb, diskGb: plan.diskGb, floatingIps: plan.floatingIps };
}

/** Reasons a plan exceeds the operator's limits; empty when it is acceptable. */
export function planViolations(plan: Plan, limits: PlanLimits): string[] {
  if (plan.model === "payg") return [];
  const out: string[] = [];
  if (plan.cores > limits.maxCores) out.push(`cores ${plan.cores} exceeds the maximum of ${limits.maxCores}`);
  if (plan.ramGb > limits.maxRamGb) out.push(`ramGb ${plan.ramGb} exceeds the maximum of ${limits.maxRamGb}`);
  if (plan.diskGb > limits.maxDiskGb) out.push(`diskGb ${plan.diskGb} exceeds the maximum of ${limits.maxDiskGb}`);
  if (plan.floatingIps > limits.maxFloatingIps)
    out.push(`floatingIps ${plan.floatingIps} exceeds the maximum of ${limits.maxFloatingIps}`);
  return out;
}

/** The plan in `target` (its stored form: undefined, the default target, names none). */
export function inTarget<P extends Plan>(plan: P, target: string | undefined): P {
  const { target: _named, ...rest } = plan;
  return (target === undefined ? rest : { ...rest, target }) as P;
}
