import { z } from "zod";
import type { DriftDifference as DriftDifferenceSchema } from "./drift.js";
import { BlockStorageQuota, ComputeQuota, NetworkQuota, type QuotaSets } from "./quota.js";
import { TENANT_RESOURCES, type TenantSpec } from "./tenant-spec.js";

/**
 * What OpenStack reports of one tenant, in the program's property names (the Pulumi inputs of
 * src/program/tenant.ts), read by src/openstack/tenant-observation.ts. A `null` user means Keystone answered
 * 404: it is gone (a tenant whose project is gone is observed as `null` as a whole).
 */
export const ObservedTenant = z.object({
  project: z.object({
    name: z.string(), description: z.string(), domainId: z.string(), enabled: z.boolean(), tags: z.array(z.string()),
  }),
  user: z.object({
    name: z.string(), description: z.string(), domainId: z.string(), defaultProjectId: z.string().nullable(), enabled: z.boolean(),
    ignoreChangePasswordUponFirstUse: z.boolean(), ignorePasswordExpiry: z.boolean(),
  }).nullable(),
  /** Whether the user holds the member role on the project by a direct assignment (what the program declares). */
  memberRole: z.boolean(),
  quotas: z.object({ compute: ComputeQuota, blockStorage: BlockStorageQuota, network: NetworkQuota }),
});
export type ObservedTenant = z.infer<typeof ObservedTenant>;

/** Ids the stack recorded for the tenant (its outputs): the observation reads these, not names. */
export interface TenantIds {
  projectId: string;
  userId: string;
}

/** in_sync: nothing differs; differs: these differences; unknown: the cloud could not be read (why). */
export type TenantObservation =
  | { state: "in_sync" }
  | { state: "differs"; differences: DriftDifference[] }
  | { state: "unknown"; reason: string };

type DriftDifference = z.infer<typeof DriftDifferenceSchema>;
const TYPE = Object.fromEntries(TENANT_RESOURCES.map((r) => [r.name, r.type])) as Record<(typeof TENANT_RESOURCES)[number]["name"], string>;
const QUOTA_RESOURCE = { compute: "compute-quota", blockStorage: "blockstorage-quota", network: "network-quota" } as const;

/**
 * The differences between what the stack declares (`spec`, with the ids it recorded) and what OpenStack
 * reports, named as a refresh preview names them (resource, Pulumi type, `update` or `delete`, property
 * names): an empty list means a refresh preview has nothing to find in what is compared here.
 *
 * Quotas are compared field by field, exactly: 0 is a value like any other (Neutron's create drops zeros
 * with provider v1.54.1, so a 0-IP plan that `afterUp` did not correct shows Neutron's 50: a difference,
 * not "unset"), and -1 is OpenStack's "unlimited", equal only to -1 (Nova, Cinder and Neutron all answer
 * -1 for unlimited; a finite value where -1 was declared is a cap that was not bought).
 */
export function tenantDifferences(spec: TenantSpec, ids: TenantIds, seen: ObservedTenant | null): DriftDifference[] {
  // A project deleted by hand takes its role assignment with it, and its quota sets mean nothing (Nova and
  // Cinder answer their defaults for any id): one difference says enough to pay for the refresh preview.
  if (!seen) return [{ resource: "project", type: TYPE.project, change: "delete", properties: [] }];
  const out: DriftDifference[] = [];
  const project = differing({
    name: [seen.project.name, spec.projectName],
    description: [seen.project.description, spec.description],
    domainId: [seen.project.domainId, spec.domainId],
    enabled: [seen.project.enabled, spec.enabled],
    // Keystone keeps tags as a set (and the provider's `tags` is a TypeSet): order is not a difference.
    tags: [[...seen.project.tags].sort().join("\n"), [...spec.tags].sort().join("\n")],
  });
  if (project.length > 0) out.push({ resource: "project", type: TYPE.project, change: "update", properties: project });

  if (!seen.user) out.push({ resource: "user", type: TYPE.user, change: "delete", properties: [] });
  else {
    const user = differing({
      name: [seen.user.name, spec.userName],
      description: [seen.user.description, spec.description],
      domainId: [seen.user.domainId, spec.domainId],
      defaultProjectId: [seen.user.defaultProjectId, ids.projectId],
      enabled: [seen.user.enabled, spec.enabled],
      // The program sets both options on every user (src/program/tenant.ts): the service owns the password.
      ignoreChangePasswordUponFirstUse: [seen.user.ignoreChangePasswordUponFirstUse, true],
      ignorePasswordExpiry: [seen.user.ignorePasswordExpiry, true],
    });
    if (user.length > 0) out.push({ resource: "user", type: TYPE.user, change: "update", properties: user });
  }
  if (!seen.memberRole) out.push({ resource: "member", type: TYPE.member, change: "delete", properties: [] });

  for (const service of Object.keys(QUOTA_RESOURCE) as Array<keyof QuotaSets>) {
    const wanted = spec.quotas[service] as Record<string, number>;
    const actual = seen.quotas[service] as Record<string, number>;
    const fields = Object.keys(wanted).filter((f) => actual[f] !== wanted[f]).sort();
    const resource = QUOTA_RESOURCE[service];
    if (fields.length > 0) out.push({ resource, type: TYPE[resource], change: "update", properties: fields });
  }
  return out;
}

/** The observation's verdict: what a drift check needs to know whether the engine must look. */
export function observationOf(spec: TenantSpec, ids: TenantIds, seen: ObservedTenant | null): TenantObservation {
  const differences = tenantDifferences(spec, ids, seen);
  return differences.length === 0 ? { state: "in_sync" } : { state: "differs", differences };
}

function differing(pairs: Record<string, [unknown, unknown]>): string[] {
  return Object.entries(pairs).filter(([, [actual, wanted]]) => actual !== wanted).map(([name]) => name).sort();
}
