import { z } from "zod";
import type { CloudClient, Service } from "../../src/openstack/cloud-client.js";
import type { DeclaredResource } from "../../src/program/render.js";

/**
 * Test-only: the REST calls that the provider bundled with @pulumi/openstack 3.15.2
 * (terraform-provider-openstack v1.54.1, on gophercloud v1.8.0) makes for the three quota resources,
 * faithfully including its quirks, so that the real Nova, Cinder and Neutron judge what the program declares.
 *
 * Facts modelled (terraform-provider-openstack v1.54.1, openstack/):
 * - resource_openstack_compute_quotaset_v2.go, Create: every attribute read with d.GetOkExists, so an
 *   explicit 0 is sent; PUT /os-quota-sets/{project} {"quota_set": {...}} (gophercloud compute/v2/extensions/quotasets).
 * - resource_openstack_blockstorage_quotaset_v3.go, Create: every attribute read with d.Get, so an unset
 *   one is sent as 0; volume_type_quota entries are merged into the body (gophercloud's UpdateOpts.Extra);
 *   PUT /os-quota-sets/{project} {"quota_set": {...}} (gophercloud blockstorage/extensions/quotasets).
 * - resource_openstack_networking_quota_v2.go, Create: every attribute read with d.GetOk, which reports
 *   a 0 as unset, so a 0 is NOT sent and stays at Neutron's default; `security_group_rule` is read with
 *   d.Get and guarded by the `ok` left over from `security_group` (a stale variable), so it is sent exactly
 *   when security_group is non-zero; PUT /v2.0/quotas/{project} {"quota": {...}} (gophercloud networking/v2/extensions/quotas).
 * - All three Updates send only the attributes whose value differs from the state (d.HasChange), then Read;
 *   all three Deletes are schema.RemoveFromState: no call, the quotas stay in the services.
 * - Create and Update end with Read (GET of the same path); the state is what the service answered.
 */
interface QuotaResource {
  service: Service;
  path: (projectId: string) => string;
  key: "quota_set" | "quota";
  /** The resource's attributes in the provider's schema (besides region and project_id). */
  attributes: readonly string[];
  createBody: (declared: Record<string, number>) => Record<string, number>;
}

export const PROVIDER_QUOTA_RESOURCES: Record<string, QuotaResource> = {
  "openstack:compute/quotaSetV2:QuotaSetV2": {
    service: "compute", path: (p) => `/os-quota-sets/${p}`, key: "quota_set",
    attributes: ["fixed_ips", "floating_ips", "injected_file_content_bytes", "injected_file_path_bytes", "injected_files", "key_pairs", "metadata_items", "ram", "security_group_rules", "security_groups", "cores", "instances", "server_groups", "server_group_members"],
    createBody: (d) => ({ ...d }), // GetOkExists: every declared attribute, zeros included
  },
  "openstack:blockstorage/quoteSetV3:QuoteSetV3": {
    service: "block-storage", path: (p) => `/os-quota-sets/${p}`, key: "quota_set",
    attributes: ["volumes", "snapshots", "gigabytes", "per_volume_gigabytes", "backups", "backup_gigabytes", "groups"],
    // d.Get: an unset attribute is sent as 0; volume_type_quota entries are merged over the body (Extra).
    createBody: (d) => ({ ...Object.fromEntries(["volumes", "snapshots", "gigabytes", "per_volume_gigabytes", "backups", "backup_gigabytes", "groups"].map((a) => [a, d[a] ?? 0])), ...d }),
  },
  "openstack:networking/quotaV2:QuotaV2": {
    service: "network", path: (p) => `/v2.0/quotas/${p}`, key: "quota",
    attributes: ["floatingip", "network", "port", "rbac_policy", "router", "security_group", "security_group_rule", "subnet", "subnetpool"],
    createBody: (d) => {
      const body: Record<string, number> = {};
      let ok = false;
      for (const a of ["floatingip", "network", "port", "rbac_policy", "router", "security_group"]) {
        ok = d[a] !== undefined && d[a] !== 0; // d.GetOk: a zero value is "not set"
        if (ok) body[a] = d[a] as number;
      }
      if (ok) body.security_group_rule = d.security_group_rule ?? 0; // d.Get, guarded by security_group's `ok`
      for (const a of ["subnet", "subnetpool"]) if (d[a] !== undefined && d[a] !== 0) body[a] = d[a] as number;
      return body;
    },
  },
};

/** tfbridge's name mangling: the SDK's camelCase input is the provider's snake_case attribute. */
export const attributeOf = (input: string) => input.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const Body = z.record(z.string(), z.unknown());
export type QuotaState = Record<string, number>;

/** The declared inputs of a quota resource as provider attributes; an input the provider does not know is an error. */
export function declaredAttributes(resource: DeclaredResource): Record<string, number> {
  const spec = PROVIDER_QUOTA_RESOURCES[resource.type];
  if (!spec) throw new Error(`${resource.type} is not a quota resource`);
  const out: Record<string, number> = {};
  for (const [input, value] of Object.entries(resource.inputs)) {
    if (input === "projectId" || input === "region") continue;
    if (input === "volumeTypeQuota") {
      Object.assign(out, value as Record<string, number>); // merged into the body as UpdateOpts.Extra
      continue;
    }
    const attribute = attributeOf(input);
    if (!spec.attributes.includes(attribute)) throw new Error(`${resource.type} declares '${input}', which the provider has no attribute '${attribute}' for`);
    out[attribute] = value as number;
  }
  return out;
}

/** Create (or, given the previous state, Update) one quota resource as the provider does; returns the new state. */
export async function applyQuotaResource(client: CloudClient, projectId: string, resource: DeclaredResource, previous: QuotaState | undefined): Promise<{ sent: Record<string, number> | null; state: QuotaState }> {
  const spec = PROVIDER_QUOTA_RESOURCES[resource.type];
  if (!spec) throw new Error(`${resource.type} is not a quota resource`);
  const declared = declaredAttributes(resource);
  const sent = previous
    ? Object.fromEntries(Object.entries(declared).filter(([a, v]) => previous[a] !== v)) // d.HasChange
    : spec.createBody(declared);
  const path = spec.path(encodeURIComponent(projectId));
  if (!previous || Object.keys(sent).length > 0) await client.request(spec.service, "PUT", path, Body, { [spec.key]: sent });
  const read = (await client.request(spec.service, "GET", path, z.object({ [spec.key]: Body }))) as Record<string, Record<string, unknown>>;
  const got = read[spec.key] ?? {};
  const state = Object.fromEntries(spec.attributes.map((a) => [a, Number(got[a])]));
  return { sent: previous && Object.keys(sent).length === 0 ? null : sent, state };
}
