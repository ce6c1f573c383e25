import { z } from "zod";
import { entitlement, type PlanLimits } from "./plan.js";
import { QuotaSets, quotaSetsFor, type QuotaDefaults } from "./quota.js";
import { stackNameOf, SubscriptionId } from "./subscription-id.js";
import type { DesiredState } from "./subscription.js";

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
}).strict();
export type TenantSpec = z.infer<typeof TenantSpec>;

/** Operator settings that shape every tenant. */
export interface TenantSettings {
  domainId: string;
  memberRole: string;
  region: string;
  authUrl: string;
  limits: PlanLimits;
  quotaDefaults: QuotaDefaults;
}

export function tenantSpecOf(desired: DesiredState, settings: TenantSettings): TenantSpec {
  const name = stackNameOf(desired.id);
  return {
    subscriptionId: SubscriptionId.parse(desired.id),
    projectName: name,
    userName: name,
    // Keystone descriptions are visible to the tenant's own users: customer name only, no email.
    description: `Marketplace subscription ${desired.id} (${desired.customer.name})`.slice(0, 255),
    enabled: desired.status === "active",
    domainId: settings.domainId,
    memberRole: settings.memberRole,
    region: settings.region,
    authUrl: settings.authUrl,
    tags: [`subscription:${desired.id}`, `customer:${desired.customer.id}`, `plan:${desired.plan.model}`],
    quotas: quotaSetsFor(entitlement(desired.plan, settings.limits), settings.quotaDefaults),
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
