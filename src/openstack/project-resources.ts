import { z } from "zod";
import { unavailable } from "../domain/errors.js";
import type { CloudClient, Service } from "./cloud-client.js";

const Item = z.object({ id: z.string(), name: z.string().nullish() }).passthrough();
const list = <K extends string>(key: K) => z.object({ [key]: z.array(Item) } as Record<K, z.ZodArray<typeof Item>>);
const Port = z.object({ id: z.string(), device_owner: z.string().nullish(), device_id: z.string().nullish() });
const Ports = z.object({ ports: z.array(Port) });
const Nothing = z.unknown();

/** One kind of project resource that Keystone's project deletion leaves behind. */
interface Kind {
  name: string;
  service: Service;
  key: string;
  listPath: (p: string) => string;
  deletePath: (id: string) => string;
  /** Deletion is asynchronous (servers, volumes, snapshots): wait until the list is empty. */
  waits?: boolean;
  keep?: (item: z.infer<typeof Item>) => boolean;
}

/**
 * What is purged, in this order (each step needs the previous one gone): servers (they hold volumes,
 * ports and floating IPs), floating IPs, volume snapshots (they pin volumes), volumes, routers (gateway
 * cleared and interfaces removed first), the remaining ports, subnets, networks, security groups.
 * Documented in the README.
 *
 * The project's `default` security group is not listed: Neutron creates it again whenever the project's
 * security groups are listed by an admin (neutron/db/securitygroups_db.py, get_security_groups calls
 * _ensure_default_security_group for the project filtered on), so every project "has" one, and any check
 * would find it again. It is dropped last, by `dropDefaultSecurityGroup`, once nothing else remains.
 */
const KINDS: Kind[] = [
  { name: "servers", service: "compute", key: "servers", listPath: (p) => `/servers/detail?all_tenants=1&project_id=${p}`, deletePath: (id) => `/servers/${id}`, waits: true },
  { name: "floating IPs", service: "network", key: "floatingips", listPath: (p) => `/v2.0/floatingips?project_id=${p}`, deletePath: (id) => `/v2.0/floatingips/${id}` },
  { name: "snapshots", service: "block-storage", key: "snapshots", listPath: (p) => `/snapshots/detail?all_tenants=1&project_id=${p}`, deletePath: (id) => `/snapshots/${id}`, waits: true },
  { name: "volumes", service: "block-storage", key: "volumes", listPath: (p) => `/volumes/detail?all_tenants=1&project_id=${p}`, deletePath: (id) => `/volumes/${id}`, waits: true },
  { name: "routers", service: "network", key: "routers", listPath: (p) => `/v2.0/routers?project_id=${p}`, deletePath: (id) => `/v2.0/routers/${id}` },
  {
    name: "ports", service: "network", key: "ports", listPath: (p) => `/v2.0/ports?project_id=${p}`, deletePath: (id) => `/v2.0/ports/${id}`,
    // DHCP ports belong to their network and go with it.
    keep: (i) => String(i.device_owner ?? "").startsWith("network:dhcp"),
  },
  { name: "subnets", service: "network", key: "subnets", listPath: (p) => `/v2.0/subnets?project_id=${p}`, deletePath: (id) => `/v2.0/subnets/${id}` },
  { name: "networks", service: "network", key: "networks", listPath: (p) => `/v2.0/networks?project_id=${p}`, deletePath: (id) => `/v2.0/networks/${id}` },
  {
    name: "security groups", service: "network", key: "security_groups", listPath: (p) => `/v2.0/security-groups?project_id=${p}`, deletePath: (id) => `/v2.0/security-groups/${id}`,
    keep: (i) => i.name === "default",
  },
];

export type Remaining = Array<{ kind: string; items: Array<{ id: string; name: string }> }>;

/** The project's resources that would outlive it, per kind (kinds the cloud does not run are skipped). */
export async function remainingResources(client: CloudClient, projectId: string): Promise<Remaining> {
  const p = encodeURIComponent(projectId);
  const out: Remaining = [];
  for (const kind of KINDS) {
    if (!(await client.endpoint(kind.service))) continue;
    const items = (await listOf(client, kind, p)).map((i) => ({ id: i.id, name: i.name ?? "" }));
    if (items.length > 0) out.push({ kind: kind.name, items });
  }
  return out;
}

export function describeRemaining(r: Remaining): string {
  return r.map((k) => `${k.items.length} ${k.kind} (${k.items.map((i) => i.name || i.id).join(", ")})`).join("; ");
}

/** Deletes what remains of the project, in dependency order; `onStep` hears each deletion. */
export async function purgeProject(
  client: CloudClient,
  projectId: string,
  o: { pollMs: number; timeoutMs: number; onStep?: (step: string) => void },
): Promise<number> {
  const p = encodeURIComponent(projectId);
  let deleted = 0;
  for (const kind of KINDS) {
    if (!(await client.endpoint(kind.service))) continue;
    const items = await listOf(client, kind, p);
    for (const item of items) {
      if (kind.key === "routers") await detachRouter(client, item, o.onStep);
      await client.request(kind.service, "DELETE", kind.deletePath(item.id), Nothing);
      o.onStep?.(`deleted ${kind.name.replace(/s$/, "")} ${item.name || item.id}`);
      deleted++;
    }
    if (kind.waits && items.length > 0) await untilGone(client, kind, p, o);
  }
  return deleted;
}

/**
 * Deletes the project's `default` security group, the last thing Neutron holds for a project that is
 * about to be deleted (listing it creates it if it was missing: see above; deleting it as admin is allowed).
 */
export async function dropDefaultSecurityGroup(client: CloudClient, projectId: string, onStep?: (step: string) => void): Promise<void> {
  if (!(await client.endpoint("network"))) return;
  const { security_groups } = await client.request("network", "GET", `/v2.0/security-groups?project_id=${encodeURIComponent(projectId)}&name=default`, list("security_groups"));
  for (const sg of security_groups) {
    await client.request("network", "DELETE", `/v2.0/security-groups/${sg.id}`, Nothing);
    onStep?.(`deleted the default security group ${sg.id}`);
  }
}

async function listOf(client: CloudClient, kind: Kind, p: string) {
  const body = await client.request(kind.service, "GET", kind.listPath(p), list(kind.key));
  const items = (body as Record<string, Array<z.infer<typeof Item>>>)[kind.key] ?? [];
  return kind.keep ? items.filter((i) => !kind.keep?.(i)) : items;
}

/** A router is deleted only without gateway and interfaces. */
async function detachRouter(client: CloudClient, router: z.infer<typeof Item>, onStep?: (s: string) => void): Promise<void> {
  if (router.external_gateway_info) {
    await client.request("network", "PUT", `/v2.0/routers/${router.id}`, Nothing, { router: { external_gateway_info: {} } });
    onStep?.(`cleared the gateway of router ${router.name || router.id}`);
  }
  const { ports } = await client.request("network", "GET", `/v2.0/ports?device_id=${encodeURIComponent(router.id)}&device_owner=network:router_interface`, Ports);
  for (const port of ports) {
    await client.request("network", "PUT", `/v2.0/routers/${router.id}/remove_router_interface`, Nothing, { port_id: port.id });
    onStep?.(`removed interface ${port.id} of router ${router.name || router.id}`);
  }
}

async function untilGone(client: CloudClient, kind: Kind, p: string, o: { pollMs: number; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const left = await listOf(client, kind, p);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw unavailable(`${left.length} ${kind.name} still being deleted after ${Math.round(o.timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
}
