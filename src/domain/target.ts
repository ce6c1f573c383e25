import { z } from "zod";

/**
 * A target is one place tenants are sold in: a cloud (its Keystone and admin credentials) and a region
 * of it. Its name appears in plans, stack configs, metrics labels and URLs, so the alphabet is small.
 */
export const TargetName = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/, "target name must be 1-32 lowercase letters, digits or inner dashes");
export type TargetName = z.infer<typeof TargetName>;

/** The default target's name when TARGETS_FILE does not say otherwise: today's single cloud. */
export const DEFAULT_TARGET_NAME = "default";

/** The resource classes of Placement the service sells against (os-resource-classes: VCPU, MEMORY_MB, DISK_GB). */
export const CapacityResource = z.enum(["VCPU", "MEMORY_MB", "DISK_GB"]);
export type CapacityResource = z.infer<typeof CapacityResource>;
export const CAPACITY_RESOURCES = CapacityResource.options;

/**
 * The operator's selling policy: how far past what Placement allows each resource may be sold (1: exactly
 * what Placement allows, its allocation ratios included; 1.5: half as much again). Absent: 1.
 */
export const SellingPolicy = z.object({
  VCPU: z.number().positive().max(100).optional(),
  MEMORY_MB: z.number().positive().max(100).optional(),
  DISK_GB: z.number().positive().max(100).optional(),
}).strict();
export type SellingPolicy = z.infer<typeof SellingPolicy>;

/**
 * One target as TARGETS_FILE declares it. Whatever is left out is the default target's (the OS_* /
 * OS_CLOUD credentials, TENANT_* settings, GNOCCHI_URL): a second region of the same cloud needs only a
 * name and a region.
 */
export const TargetEntry = z.object({
  name: TargetName,
  /** A cloud of the clouds.yaml (OS_CLIENT_CONFIG_FILE, searched as the CLI does); absent: the default's credentials. */
  cloud: z.string().min(1).optional(),
  /** The region of its Nova, Cinder, Neutron and Placement; absent: the cloud's own (or the default's). */
  region: z.string().min(1).optional(),
  memberRole: z.string().min(1).optional(),
  /** The Keystone URL its customers are told to use. */
  authUrl: z.string().url().optional(),
  gnocchiUrl: z.string().url().optional(),
  dashboardUrl: z.string().url().optional(),
  /** Shown to operators and customers (Cloudesire's parameter values); absent: the name. */
  label: z.string().min(1).max(255).optional(),
  selling: SellingPolicy.optional(),
}).strict();
export type TargetEntry = z.infer<typeof TargetEntry>;

export const TargetsFile = z.object({
  /** Which target a plan that names none goes to; absent: the first one listed. */
  default: TargetName.optional(),
  targets: z.array(TargetEntry).min(1),
}).strict().superRefine((f, ctx) => {
  const seen = new Set<string>();
  for (const t of f.targets) {
    if (seen.has(t.name)) ctx.addIssue({ code: "custom", message: `target '${t.name}' is listed twice` });
    seen.add(t.name);
  }
  if (f.default && !seen.has(f.default)) ctx.addIssue({ code: "custom", message: `default target '${f.default}' is not listed` });
});
export type TargetsFile = z.infer<typeof TargetsFile>;

/** What a tenant's declaration takes from its target (the program and the customer's credentials). */
export interface TargetPlacement {
  name: TargetName;
  label: string;
  region: string;
  authUrl: string;
  memberRole: string;
  /** A clouds.yaml cloud other than the default's: the program declares the tenant through a provider of its own. */
  cloud?: string | undefined;
}

/**
 * The target a plan names, in its stored form: absent means the default target, so that the desired
 * states of subscriptions made before targets existed stay what they were (and declare the same stack).
 */
export function canonicalTarget(named: string | undefined, defaultTarget: string): string | undefined {
  return named === undefined || named === defaultTarget ? undefined : named;
}

/** The target a stored plan is in. */
export function targetOf(plan: { target?: string | undefined }, defaultTarget: string): string {
  return plan.target ?? defaultTarget;
}
