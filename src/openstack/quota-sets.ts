import { z } from "zod";
import { upstream } from "../domain/errors.js";
import { BlockStorageQuota, ComputeQuota, NetworkQuota, type QuotaReadBack, type QuotaSets } from "../domain/quota.js";
import type { CloudClient, Service } from "./cloud-client.js";

export type QuotaService = keyof QuotaSets;

/**
 * Our quota field → the API's field, for every field of the three quota sets (the `satisfies` makes a
 * missing or extra field a compile error). The API names are those of Nova `os-quota-sets` at
 * microversion 2.1 (floating_ips, fixed_ips, security_groups and security_group_rules exist up to 2.35),
 * Cinder v3 `os-quota-sets` and Neutron `quotas`; they are also the attribute names of the provider's
 * resources (terraform-provider-openstack v1.54.1, resource_openstack_compute_quotaset_v2.go,
 * resource_openstack_blockstorage_quotaset_v3.go, resource_openstack_networking_quota_v2.go) and the JSON
 * tags of gophercloud v1.8.0's UpdateOpts.
 */
export const QUOTA_API_FIELDS = {
  compute: {
    cores: "cores", ram: "ram", instances: "instances", floatingIps: "floating_ips", fixedIps: "fixed_ips",
    keyPairs: "key_pairs", metadataItems: "metadata_items", injectedFiles: "injected_files",
    injectedFileContentBytes: "injected_file_content_bytes", injectedFilePathBytes: "injected_file_path_bytes",
    securityGroups: "security_groups", securityGroupRules: "security_group_rules", serverGroups: "server_groups",
    serverGroupMembers: "server_group_members",
  },
  blockStorage: {
    gigabytes: "gigabytes", volumes: "volumes", snapshots: "snapshots", backups: "backups",
    backupGigabytes: "backup_gigabytes", perVolumeGigabytes: "per_volume_gigabytes", groups: "groups",
  },
  network: {
    floatingip: "floatingip", network: "network", subnet: "subnet", port: "port", router: "router",
    securityGroup: "security_group", securityGroupRule: "security_group_rule", rbacPolicy: "rbac_policy",
    subnetpool: "subnetpool",
  },
} as const satisfies { [S in QuotaService]: Record<keyof QuotaSets[S], string> };

const SCHEMAS = { compute: ComputeQuota, blockStorage: BlockStorageQuota, network: NetworkQuota } as const;

/** Where each quota set lives (gophercloud v1.8.0: compute and blockstorage `quotasets`, networking `quotas`). */
const ENDPOINTS: Record<QuotaService, { service: Service; path: (p: string) => string; key: "quota_set" | "quota" }> = {
  compute: { service: "compute", path: (p) => `/os-quota-sets/${p}`, key: "quota_set" },
  blockStorage: { service: "block-storage", path: (p) => `/os-quota-sets/${p}`, key: "quota_set" },
  network: { service: "network", path: (p) => `/v2.0/quotas/${p}`, key: "quota" },
};

const QuotaSetBody = z.object({ quota_set: z.record(z.string(), z.unknown()) });
const QuotaBody = z.object({ quota: z.record(z.string(), z.unknown()) });

/** The API's body (any extra keys, e.g. Cinder's per-volume-type `volumes___DEFAULT__`, are ignored) → ours. */
export function fromApi<S extends QuotaService>(service: S, body: Record<string, unknown>): QuotaSets[S] {
  const ours = Object.fromEntries(Object.entries(QUOTA_API_FIELDS[service]).map(([o, api]) => [o, body[api]]));
  const parsed = SCHEMAS[service].safeParse(ours);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${String(i.path[0])} (${(QUOTA_API_FIELDS[service] as Record<string, string>)[String(i.path[0])]})`);
    throw upstream(`the ${service} quota set read back is not what the API promises: ${fields.join(", ")}`);
  }
  return parsed.data as QuotaSets[S];
}

/** Ours → the API's body, for the given fields only. */
export function toApi<S extends QuotaService>(service: S, fields: Partial<QuotaSets[S]>): Record<string, number> {
  const names = QUOTA_API_FIELDS[service] as Record<string, string>;
  return Object.fromEntries(Object.entries(fields as Record<string, number | undefined>).flatMap(([o, v]) => (v === undefined ? [] : [[names[o] as string, v]])));
}

/** Whether the cloud runs the service of this quota set (a Keystone-only cloud has none). */
export async function hasQuotaService(client: CloudClient, service: QuotaService): Promise<boolean> {
  return (await client.endpoint(ENDPOINTS[service].service)) !== null;
}

/** Reads one of the project's quota sets (GET, as gophercloud's quotasets/quotas `Get`). */
export async function readQuotaSet<S extends QuotaService>(client: CloudClient, projectId: string, service: S): Promise<QuotaSets[S]> {
  const e = ENDPOINTS[service];
  const p = encodeURIComponent(projectId);
  const body = e.key === "quota" ? (await client.request(e.service, "GET", e.path(p), QuotaBody)).quota : (await client.request(e.service, "GET", e.path(p), QuotaSetBody)).quota_set;
  return fromApi(service, body);
}

/** Writes the given fields of one quota set (PUT, as gophercloud's `Update`) and returns the set as the API answers it. */
export async function writeQuotaSet<S extends QuotaService>(client: CloudClient, projectId: string, service: S, fields: Partial<QuotaSets[S]>): Promise<QuotaSets[S]> {
  const e = ENDPOINTS[service];
  const p = encodeURIComponent(projectId);
  const payload = { [e.key]: toApi(service, fields) };
  const body = e.key === "quota" ? (await client.request(e.service, "PUT", e.path(p), QuotaBody, payload)).quota : (await client.request(e.service, "PUT", e.path(p), QuotaSetBody, payload)).quota_set;
  return fromApi(service, body);
}

export interface QuotaDifference {
  service: QuotaService;
  field: string;
  actual: number;
  wanted: number;
}

/** The fields whose actual value is not the wanted one. */
export function quotaDifferences<S extends QuotaService>(service: S, wanted: QuotaSets[S], actual: QuotaSets[S]): QuotaDifference[] {
  const w = wanted as Record<string, number>;
  const a = actual as Record<string, number>;
  return Object.keys(QUOTA_API_FIELDS[service])
    .filter((f) => a[f] !== w[f])
    .map((f) => ({ service, field: f, actual: a[f] as number, wanted: w[f] as number }));
}

export const describeDifference = (d: QuotaDifference) => `${d.service} ${d.field} ${d.actual} -> ${d.wanted}`;

/**
 * Puts each quota set the cloud runs back to exactly `wanted`: reads it, writes the fields that differ
 * (one PUT per service), reads it again, and returns what was corrected ("network floatingip 50 -> 0").
 * A field that stays wrong after the write is an error naming it, never a silent success.
 *
 * With `readBack` (what the update wrote, as the provider read it back) only a set the update wrote and the
 * provider did not read back exactly as wanted is read and corrected: the provider's read is the service's
 * own answer, so reading again would ask the same question twice (three requests an update, and Nova's
 * check of the project with Keystone). Without it, every set is read.
 */
export async function enforceQuotaSets(client: CloudClient, projectId: string, wanted: QuotaSets, readBack?: QuotaReadBack): Promise<string[]> {
  const corrected: string[] = [];
  for (const service of Object.keys(QUOTA_API_FIELDS) as QuotaService[]) {
    if (readBack) {
      if (!(service in readBack)) continue;
      const seen = readBack[service];
      if (seen && quotaDifferences(service, wanted[service], seen).length === 0) continue;
    }
    if (!(await hasQuotaService(client, service))) continue;
    const diffs = quotaDifferences(service, wanted[service], await readQuotaSet(client, projectId, service));
    if (diffs.length === 0) continue;
    const fix = Object.fromEntries(diffs.map((d) => [d.field, d.wanted])) as Partial<QuotaSets[typeof service]>;
    await writeQuotaSet(client, projectId, service, fix);
    const still = quotaDifferences(service, wanted[service], await readQuotaSet(client, projectId, service));
    if (still.length > 0) throw upstream(`the ${service} quota set of project ${projectId} did not take the values written: ${still.map(describeDifference).join(", ")}`);
    corrected.push(...diffs.map(describeDifference));
  }
  return corrected;
}

/**
 * Deletes the project's quota rows in the three services (each answers by going back to its defaults). The
 * provider's quota resources only forget themselves on destroy (`schema.RemoveFromState`, v1.54.1) and
 * Keystone's project deletion tells no one, so without this a cancelled tenant's quotas stay in Nova,
 * Cinder and Neutron for good. Services the cloud does not run are skipped.
 */
export async function resetQuotaSets(client: CloudClient, projectId: string): Promise<string[]> {
  const done: string[] = [];
  for (const service of Object.keys(ENDPOINTS) as QuotaService[]) {
    if (!(await hasQuotaService(client, service))) continue;
    const e = ENDPOINTS[service];
    await client.request(e.service, "DELETE", e.path(encodeURIComponent(projectId)), z.unknown());
    done.push(`${service} quota set reset to the defaults`);
  }
  return done;
}
