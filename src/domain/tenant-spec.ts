import { z } from "zod";
import { entitlement, inTarget, type Plan, type PlanLimits } from "./plan.js";
import { QuotaSets, quotaSetsFor, type QuotaDefaults } from "./quota.js";
import { stackNameOf, SubscriptionId } from "./subscription-id.js";
import type { DesiredState } from "./subscription.js";
import { invalid } from "./errors.js";
import { canonicalTarget, TargetName, targetOf, type TargetPlacement } from "./target.js";

/**
 * Everything the Pulumi program needs to declare one tenant, written by the service into the stack's
 * config (`tenant:spec`), so that `pulumi preview --stack sub-<id>` at a shell declares exactly what the
 * service would. The user's password is not here: it is a separate secret config value.
 */
export const TenantSpec = z.object({
  subscriptionId: SubscriptionId,
  projectName: z.string().min(1).max(64),
  userName: z.string().min(1).max(255),
  description: z.string().max(255),
  enabled: z.boolean(),
  domainId: z.string().min(1),
  memberRole: z.string().min(1),
  region: z.string().min(1),
  authUrl: z.string().url(),
  tags: z.array(z.string().max(255)),
  quotas: QuotaSets,
  /**
   * The target the tenant is in (domain/target.ts), absent for the default target: a stack declared
   * before targets existed declares exactly what it did. `region` above is the target's.
   */
  target: TargetName.optional(),
  /** The target's clouds.yaml cloud when it is not the default's: the program declares through a provider of it. */
  cloud: z.string().min(1).optional(),
}).strict();
export type TenantSpec = z.infer<typeof TenantSpec>;

/** Operator settings that shape every tenant. `memberRole`, `region`, `authUrl`: the default target's. */
export interface TenantSettings {
  domainId: string;
  memberRole: string;
  region: string;
  authUrl: string;
  limits: PlanLimits;
  quotaDefaults: QuotaDefaults;
  /** The target of a plan that names none (TARGETS_FILE's `default`; "default" without the file). */
  defaultTarget?: string;
  /** The targets other than the default, by name (TARGETS_FILE); absent: one cloud, one region. */
  targets?: Readonly<Record<string, TargetPlacement>>;
}

/** The default target's name. */
export const defaultTargetOf = (settings: TenantSettings): string => settings.defaultTarget ?? "default";

/** Every target the service sells in, the default first. */
export function targetsOf(settings: TenantSettings): TargetPlacement[] {
  const name = defaultTargetOf(settings);
  const own: TargetPlacement = settings.targets?.[name] ?? { name, label: name, region: settings.region, authUrl: settings.authUrl, memberRole: settings.memberRole };
  return [own, ...Object.values(settings.targets ?? {}).filter((t) => t.name !== name)];
}

/** The target a plan names, as configured; an unknown one is bad input (a 422 at the edge that brought it). */
export function placementOf(plan: { target?: string | undefined }, settings: TenantSettings): TargetPlacement {
  const name = targetOf(plan, defaultTargetOf(settings));
  const found = targetsOf(settings).find((t) => t.name === name);
  if (!found) throw invalid(`unknown target '${name}'`, [`the targets are: ${targetsOf(settings).map((t) => t.name).join(", ")}`]);
  return found;
}

export function tenantSpecOf(desired: DesiredState, settings: TenantSettings): TenantSpec {
  const name = stackNameOf(desired.id);
  const target = placementOf(desired.plan, settings);
  const isDefault = target.name === defaultTargetOf(settings);
  return {
    subscriptionId: SubscriptionId.parse(desired.id),
    projectName: name,
    userName: name,
    // Keystone descriptions are visible to the tenant's own users: customer name only, no email.
    description: `Marketplace subscription ${desired.id} (${desired.customer.name})`.slice(0, 255),
    enabled: desired.status === "active",
    domainId: settings.domainId,
    memberRole: target.memberRole,
    region: target.region,
    authUrl: target.authUrl,
    tags: [`subscription:${desired.id}`, `customer:${desired.customer.id}`, `plan:${desired.plan.model}`],
    quotas: quotaSetsFor(entitlement(desired.plan, settings.limits), settings.quotaDefaults),
    ...(isDefault ? {} : { target: target.name }),
    ...(target.cloud ? { cloud: target.cloud } : {}),
  };
}

/**
 * The resources the program declares for one tenant, in creation order: progress displays count
 * against this list (a unit test of the program keeps it equal to what the program declares).
 */
export const TENANT_RESOURCES = [
  { name: "project", type: "openstack:identity/project:Project" },
  { name: "user", type: "openstack:identity/user:User" },
  { name: "member", type: "openstack:identity/roleAssignment:RoleAssignment" },
  { name: "compute-quota", type: "openstack:compute/quotaSetV2:QuotaSetV2" },
  { name: "blockstorage-quota", type: "openstack:blockstorage/quoteSetV3:QuoteSetV3" },
  { name: "network-quota", type: "openstack:networking/quotaV2:QuotaV2" },
] as const;

/**
 * An event whose plan names its target as stored: the default target's name becomes none (so a plan that
 * names it and one that does not are the same plan). An unknown target is bad input (422).
 */
export function inCanonicalTarget<E extends { subscription: { plan: Plan } }>(event: E, settings: TenantSettings): E {
  const plan = event.subscription.plan;
  placementOf(plan, settings);
  const target = canonicalTarget(plan.target, defaultTargetOf(settings));
  return target === plan.target ? event : { ...event, subscription: { ...event.subscription, plan: inTarget(plan, target) } };
}
