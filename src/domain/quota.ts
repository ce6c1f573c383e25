import { z } from "zod";
import type { Quantities } from "./plan.js";

const Limit = z.number().int().min(-1); // -1 is OpenStack's "unlimited"

/**
 * Every field of each quota resource of @pulumi/openstack. The quota resources are "all-in": a field
 * that is not passed is set to 0 on create (and delete is a no-op), so the program passes every one.
 */
export const ComputeQuota = z.object({
  cores: Limit, ram: Limit, instances: Limit, floatingIps: Limit, fixedIps: Limit, keyPairs: Limit,
  metadataItems: Limit, injectedFiles: Limit, injectedFileContentBytes: Limit, injectedFilePathBytes: Limit,
  securityGroups: Limit, securityGroupRules: Limit, serverGroups: Limit, serverGroupMembers: Limit,
}).strict();
export const BlockStorageQuota = z.object({
  gigabytes: Limit, volumes: Limit, snapshots: Limit, backups: Limit, backupGigabytes: Limit,
  perVolumeGigabytes: Limit, groups: Limit,
}).strict();
export const NetworkQuota = z.object({
  floatingip: Limit, network: Limit, subnet: Limit, port: Limit, router: Limit, securityGroup: Limit,
  securityGroupRule: Limit, rbacPolicy: Limit, subnetpool: Limit,
}).strict();
export const QuotaSets = z.object({ compute: ComputeQuota, blockStorage: BlockStorageQuota, network: NetworkQuota }).strict();
export type QuotaSets = z.infer<typeof QuotaSets>;

/**
 * The quota sets an update wrote, each as the provider read it back right after writing it (its Read after
 * Create/Update, which sets the state from the service's answer); null: written, but not readable as a whole
 * set. A set the update did not write is absent.
 */
export const QuotaReadBack = z.object({ compute: ComputeQuota.nullable(), blockStorage: BlockStorageQuota.nullable(), network: NetworkQuota.nullable() }).partial().strict();
export type QuotaReadBack = z.infer<typeof QuotaReadBack>;

/**
 * The quota fields a plan decides; an operator cannot override them in the defaults file, because the
 * customer bought exactly these.
 */
type PlanDecided =
  | "compute.cores" | "compute.ram" | "compute.instances" | "compute.floatingIps"
  | "blockStorage.gigabytes" | "blockStorage.backupGigabytes" | "network.floatingip";

/** Operator defaults for every field that the plan does not decide. */
export const QuotaDefaults = z.object({
  compute: ComputeQuota.omit({ cores: true, ram: true, instances: true, floatingIps: true }),
  blockStorage: BlockStorageQuota.omit({ gigabytes: true, backupGigabytes: true }),
  network: NetworkQuota.omit({ floatingip: true }),
}).strict();
export type QuotaDefaults = z.infer<typeof QuotaDefaults>;

/** OpenStack's own upstream defaults (Nova, Cinder, Neutron) for the fields a plan does not decide. */
export const DEFAULT_QUOTA_DEFAULTS: QuotaDefaults = {
  compute: {
    fixedIps: -1, keyPairs: 100, metadataItems: 128, injectedFiles: 5, injectedFileContentBytes: 10240,
    injectedFilePathBytes: 255, securityGroups: 10, securityGroupRules: 100, serverGroups: 10, serverGroupMembers: 10,
  },
  blockStorage: { volumes: 10, snapshots: 10, backups: 10, perVolumeGigabytes: -1, groups: 10 },
  network: { network: 10, subnet: 10, port: 50, router: 10, securityGroup: 10, securityGroupRule: 100, rbacPolicy: 10, subnetpool: -1 },
};

/**
 * The full quota sets for an entitlement. Cores and RAM bound compute exactly (RAM in MB, as Nova
 * counts it); instances equal cores because every server takes at least one vCPU; disk bounds volumes
 * and snapshots together (Cinder counts both in `gigabytes`) and, separately, backups; IPs bound
 * floating IPs in Neutron and in Nova's legacy proxy alike.
 */
export function quotaSetsFor(q: Quantities, defaults: QuotaDefaults): QuotaSets {
  const decided: Record<PlanDecided, number> = {
    "compute.cores": q.cores,
    "compute.ram": q.ramGb * 1024,
    "compute.instances": q.cores,
    // Nova's `floating_ips` is a nova-network proxy quota: with Neutron it bounds nothing (deprecated since
    // microversion 2.36, python-novaclient Newton release notes); Neutron's `floatingip` is what enforces the
    // IPs bought. Set equal anyway so that a tool showing the legacy value is not misleading.
    "compute.floatingIps": q.floatingIps,
    "blockStorage.gigabytes": q.diskGb,
    "blockStorage.backupGigabytes": q.diskGb,
    "network.floatingip": q.floatingIps,
  };
  return {
    compute: {
      ...defaults.compute,
      cores: decided["compute.cores"], ram: decided["compute.ram"],
      instances: decided["compute.instances"], floatingIps: decided["compute.floatingIps"],
    },
    blockStorage: {
      ...defaults.blockStorage,
      gigabytes: decided["blockStorage.gigabytes"], backupGigabytes: decided["blockStorage.backupGigabytes"],
    },
    network: { ...defaults.network, floatingip: decided["network.floatingip"] },
  };
}
