import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { CloudGuard, type OrphanPolicy } from "../../src/provisioning/tenant-guard.js";
import { Customer } from "../support/customer.js";
import { event, PREPAID } from "../support/events.js";
import { harnessWith } from "../support/harness.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { insertServer } from "../support/nova-cells.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, testcloud } from "../support/testcloud.js";

const ID = `g${Date.now().toString(36)}`;
const Any = z.any();
const Id = z.object({ id: z.string() });

let h: Awaited<ReturnType<typeof harnessWith<KeystoneContractEngine>>>;
let admin: CloudClient;
// The policy is read at each cancellation: the test switches it as an operator would switch ORPHAN_POLICY.
const guardOptions: { policy: OrphanPolicy; pollMs: number; timeoutMs: number } = { policy: "hold", pollMs: 200, timeoutMs: 60_000 };
let projectId = "";

beforeAll(async () => {
  admin = new CloudClient(adminCredentials());
  h = await harnessWith(new KeystoneContractEngine(adminCredentials()), {
    settings: { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string },
    guard: new CloudGuard(admin, guardOptions),
    maxAttempts: 1,
  });
  const res = await h.send(event(ID, "subscription.created", { plan: { ...PREPAID, cores: 8, ramGb: 16, diskGb: 200, floatingIps: 2 } }));
  const { credentialsToken } = (await res.json()) as { credentialsToken: string };
  await h.reconciler.idle();
  const sub = await h.store.get(ID);
  expect(sub?.phase).toBe("ready");
  projectId = sub?.outputs?.projectId as string;

  // The customer fills the tenant with real Neutron and Cinder objects, as the customer (their clouds.yaml).
  const me = await new Customer(h, ID, credentialsToken).client();
  const net = await me.request("network", "POST", "/v2.0/networks", z.object({ network: Id }), { network: { name: "app-net" } });
  const subnet = await me.request("network", "POST", "/v2.0/subnets", z.object({ subnet: Id }), { subnet: { name: "app-subnet", network_id: net.network.id, ip_version: 4, cidr: "10.20.0.0/24" } });
  const router = await me.request("network", "POST", "/v2.0/routers", z.object({ router: Id }), {
    router: { name: "app-router", external_gateway_info: { network_id: testcloud().TESTCLOUD_EXTERNAL_NETWORK_ID } },
  });
  await me.request("network", "PUT", `/v2.0/routers/${router.router.id}/add_router_interface`, Any, { subnet_id: subnet.subnet.id });
  await me.request("network", "POST", "/v2.0/ports", Any, { port: { name: "app-port", network_id: net.network.id } });
  await me.request("network", "POST", "/v2.0/security-groups", Any, { security_group: { name: "web" } });
  for (let i = 0; i < 2; i++) await me.request("network", "POST", "/v2.0/floatingips", Any, { floatingip: { floating_network_id: testcloud().TESTCLOUD_EXTERNAL_NETWORK_ID } });
  // Cinder commits the quota in the API; with no scheduler the volumes stay `creating` (recipe, "Cinder").
  await me.request("block-storage", "POST", "/volumes", Any, { volume: { name: "db-data", size: 100 } });
  await me.request("block-storage", "POST", "/volumes", Any, { volume: { name: "logs", size: 50 } });
  // Servers cannot boot here (no compute host): Nova's cell rows, which is what its quotas count.
  const userId = sub?.outputs?.userId as string;
  await insertServer({ projectId, userId, name: "web-1", vcpus: 3, memoryMb: 6144 });
  await insertServer({ projectId, userId, name: "db-1", vcpus: 3, memoryMb: 6144 });
}, 600_000);
afterAll(async () => {
  await h?.reconciler.stop();
});

/** What Nova, Cinder and Neutron still hold for the project, listed by the admin without side effects. */
async function leftovers(): Promise<Record<string, number>> {
  const p = projectId;
  const count = async (service: "compute" | "block-storage" | "network", path: string, key: string, mine: (i: Record<string, unknown>) => boolean = () => true) =>
    ((await admin.request(service, "GET", path, z.record(z.string(), z.array(z.record(z.string(), z.unknown())))))[key] ?? []).filter(mine).length;
  return {
    servers: await count("compute", `/servers/detail?all_tenants=1&project_id=${p}`, "servers"),
    volumes: await count("block-storage", `/volumes/detail?all_tenants=1&project_id=${p}`, "volumes"),
    floatingips: await count("network", `/v2.0/floatingips?project_id=${p}`, "floatingips"),
    routers: await count("network", `/v2.0/routers?project_id=${p}`, "routers"),
    ports: await count("network", `/v2.0/ports?project_id=${p}`, "ports"),
    subnets: await count("network", `/v2.0/subnets?project_id=${p}`, "subnets"),
    networks: await count("network", `/v2.0/networks?project_id=${p}`, "networks"),
    // Not filtered by project in the request: an admin's filtered listing creates the project's default group.
    security_groups: await count("network", "/v2.0/security-groups", "security_groups", (g) => g.project_id === p),
  };
}

describe("the tenant guard on real Nova, Cinder and Neutron usage", () => {
  it("the tenant really uses what it was given: Nova, Cinder and Neutron count it", async () => {
    expect(await leftovers()).toMatchObject({ servers: 2, volumes: 2, floatingips: 2, routers: 1, subnets: 1, networks: 1 });
  });

  it("a downsize below what the tenant uses is refused before the engine runs, naming each use", async () => {
    const ups = h.engine.quotaWrites.length;
    await h.send(event(ID, "subscription.modified", { plan: { ...PREPAID, cores: 4, ramGb: 8, diskGb: 100, floatingIps: 1 } }));
    await h.reconciler.idle();
    const sub = await h.store.get(ID);
    expect(sub?.phase).toBe("failed");
    expect(sub?.lastError).toContain("downsize refused");
    expect(sub?.lastError).toContain("compute cores: 6 in use, the plan allows 4");
    expect(sub?.lastError).toContain("compute ram: 12288 in use, the plan allows 8192");
    expect(sub?.lastError).toContain("blockStorage gigabytes: 150 in use, the plan allows 100");
    expect(sub?.lastError).toContain("network floatingip: 2 in use, the plan allows 1");
    expect(h.engine.quotaWrites.length).toBe(ups); // no quota was touched
  });

  it("a plan that still fits what is used goes through", async () => {
    await h.send(event(ID, "subscription.modified", { plan: { ...PREPAID, cores: 6, ramGb: 12, diskGb: 150, floatingIps: 2 } }));
    await h.reconciler.idle();
    expect(await h.store.get(ID)).toMatchObject({ phase: "ready", lastError: null });
  });

  it("with ORPHAN_POLICY=hold a cancellation is held, listing what the project still has, and deletes nothing", async () => {
    await h.send(event(ID, "subscription.cancelled"));
    await h.reconciler.idle();
    const held = await h.store.get(ID);
    expect(held?.phase).toBe("held");
    // "<n> <kind> (<names, in the service's order>)"
    const listed = (kind: string) => held?.lastError?.match(new RegExp(`(\\d+) ${kind} \\(([^)]*)\\)`))?.slice(1);
    expect(listed("servers")?.[0]).toBe("2");
    expect(listed("servers")?.[1]?.split(", ").sort()).toEqual(["db-1", "web-1"]);
    expect(listed("floating IPs")?.[0]).toBe("2");
    expect(listed("volumes")?.[1]?.split(", ").sort()).toEqual(["db-data", "logs"]);
    expect(listed("routers")).toEqual(["1", "app-router"]);
    expect(listed("ports")?.[1]).toContain("app-port"); // and the router's interface
    expect(listed("subnets")).toEqual(["1", "app-subnet"]);
    expect(listed("networks")).toEqual(["1", "app-net"]);
    expect(listed("security groups")).toEqual(["1", "web"]);
    expect(held?.lastError).not.toContain("default");
    expect(await leftovers()).toMatchObject({ servers: 2, volumes: 2, floatingips: 2, routers: 1, networks: 1 });
  });

  it("under ORPHAN_POLICY=purge the retried cancellation deletes everything in dependency order until the project is empty", async () => {
    guardOptions.policy = "purge";
    expect((await h.asOperator(`/v1/subscriptions/${ID}/retry`, { method: "POST" })).status).toBe(202);
    await h.reconciler.idle();
    const sub = await h.store.get(ID);
    expect(sub?.lastError ?? null).toBeNull();
    expect(sub?.phase).toBe("cancelled");
    expect(await leftovers()).toEqual({ servers: 0, volumes: 0, floatingips: 0, routers: 0, ports: 0, subnets: 0, networks: 0, security_groups: 0 });
    const steps = h.logs.filter((l) => l.includes('"msg":"purge"')).map((l) => (JSON.parse(l) as { step: string }).step);
    const first = (prefix: string) => steps.findIndex((s) => s.startsWith(prefix));
    const order = ["deleted server", "deleted floating IP", "deleted volume", "cleared the gateway", "removed interface", "deleted router", "deleted port", "deleted subnet", "deleted network", "deleted security group", "deleted the default security group"];
    expect(order.map((o) => [o, first(o) >= 0])).toEqual(order.map((o) => [o, true]));
    expect(order.map(first)).toEqual([...order.map(first)].sort((a, b) => a - b));
  });
});
