import { z } from "zod";
import type { QuotaSets } from "../domain/quota.js";
import type { CloudClient } from "./cloud-client.js";

const NovaDetail = z.object({ quota_set: z.record(z.string(), z.union([z.object({ in_use: z.number(), limit: z.number(), reserved: z.number().optional() }), z.string()])) });
const CinderUsage = z.object({ quota_set: z.record(z.string(), z.union([z.object({ in_use: z.number(), limit: z.number(), reserved: z.number().optional() }), z.string()])) });
const NeutronDetail = z.object({ quota: z.record(z.string(), z.object({ used: z.number(), limit: z.number(), reserved: z.number().optional() })) });

/** Our quota field → the API's field, for the quotas a customer can fill (and so a downsize can break). */
const FIELDS = {
  compute: { cores: "cores", ram: "ram", instances: "instances", keyPairs: "key_pairs", serverGroups: "server_groups" },
  blockStorage: { gigabytes: "gigabytes", volumes: "volumes", snapshots: "snapshots", backups: "backups", backupGigabytes: "backup_gigabytes" },
  network: { floatingip: "floatingip", network: "network", subnet: "subnet", port: "port", router: "router", securityGroup: "security_group" },
} as const satisfies { [S in keyof QuotaSets]: Partial<Record<keyof QuotaSets[S], string>> };

/** What a project uses now, per quota field (in use + reserved), for each service the cloud runs. */
export type ProjectUsage = { -readonly [S in keyof typeof FIELDS]?: Partial<Record<keyof (typeof FIELDS)[S], number>> };

/** Reads usage from the quota detail views: Nova `os-quota-sets/{p}/detail`, Cinder `?usage=true`, Neutron `details`. */
export async function projectUsage(client: CloudClient, projectId: string): Promise<ProjectUsage> {
  const usage: ProjectUsage = {};
  const p = encodeURIComponent(projectId);
  if (await client.endpoint("compute")) {
    const { quota_set } = await client.request("compute", "GET", `/os-quota-sets/${p}/detail`, NovaDetail);
    usage.compute = pick(FIELDS.compute, (f) => quota_set[f], (v) => v.in_use + (v.reserved ?? 0));
  }
  if (await client.endpoint("block-storage")) {
    const { quota_set } = await client.request("block-storage", "GET", `/os-quota-sets/${p}?usage=true`, CinderUsage);
    usage.blockStorage = pick(FIELDS.blockStorage, (f) => quota_set[f], (v) => v.in_use + (v.reserved ?? 0));
  }
  if (await client.endpoint("network")) {
    const { quota } = await client.request("network", "GET", `/v2.0/quotas/${p}/details.json`, NeutronDetail);
    usage.network = pick(FIELDS.network, (f) => quota[f], (v) => v.used + (v.reserved ?? 0));
  }
  return usage;
}

function pick<K extends string, V>(fields: Record<K, string>, get: (apiField: string) => V | string | undefined, count: (v: V) => number): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const [ours, api] of Object.entries(fields) as Array<[K, string]>) {
    const v = get(api);
    if (v !== undefined && typeof v !== "string") out[ours] = count(v);
  }
  return out;
}

/**
 * The quotas a new plan would set below what the project already uses (−1 is unlimited), one line
 * each, e.g. "compute cores: 12 in use, the plan allows 8". Empty when the plan fits.
 */
export function downsizeViolations(quotas: QuotaSets, usage: ProjectUsage): string[] {
  const out: string[] = [];
  for (const service of Object.keys(FIELDS) as Array<keyof typeof FIELDS>) {
    const used = usage[service] as Record<string, number> | undefined;
    if (!used) continue;
    for (const [field, inUse] of Object.entries(used)) {
      const limit = (quotas[service] as Record<string, number>)[field];
      if (limit !== undefined && limit !== -1 && inUse > limit) out.push(`${service} ${field}: ${inUse} in use, the plan allows ${limit}`);
    }
  }
  return out;
}
