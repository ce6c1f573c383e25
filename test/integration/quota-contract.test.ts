import { generatePassword } from "../../src/domain/password.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Plan } from "../../src/domain/plan.js";
import { DEFAULT_QUOTA_DEFAULTS, QuotaSets, type QuotaDefaults } from "../../src/domain/quota.js";
import { foldEvent } from "../../src/domain/subscription.js";
import { tenantSpecOf, type TenantSettings, type TenantSpec } from "../../src/domain/tenant-spec.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { QUOTA_API_FIELDS, readQuotaSet } from "../../src/openstack/quota-sets.js";
import { CloudGuard } from "../../src/provisioning/tenant-guard.js";
import { event } from "../support/events.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { declaredAttributes } from "../support/provider-quota-calls.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, adminEnv, cli, cliJson, testcloud } from "../support/testcloud.js";

const run = Date.now().toString(36);

/** Operator defaults with -1 ("unlimited") wherever a plan does not decide: the APIs must take -1 as is. */
const UNLIMITED_DEFAULTS: QuotaDefaults = {
  compute: { ...DEFAULT_QUOTA_DEFAULTS.compute, keyPairs: -1, serverGroups: -1, serverGroupMembers: -1, metadataItems: -1 },
  blockStorage: { ...DEFAULT_QUOTA_DEFAULTS.blockStorage, volumes: -1, snapshots: -1, backups: -1, groups: -1 },
  network: { ...DEFAULT_QUOTA_DEFAULTS.network, network: -1, subnet: -1, port: -1, router: -1 },
};

const PLANS: Record<string, { plan: Plan; defaults?: QuotaDefaults }> = {
  smallest: { plan: { model: "prepaid", cores: 1, ramGb: 1, diskGb: 1, floatingIps: 1 } },
  largest: { plan: { model: "prepaid", cores: 64, ramGb: 256, diskGb: 2000, floatingIps: 16 } }, // SETTINGS.limits
  "zero-ips": { plan: { model: "prepaid", cores: 4, ramGb: 8, diskGb: 50, floatingIps: 0 } },
  payg: { plan: { model: "payg" }, defaults: UNLIMITED_DEFAULTS },
};

let engine: KeystoneContractEngine;
let client: CloudClient;
const tenants: Record<string, { spec: TenantSpec; projectId: string }> = {};
const stackOf = (name: string) => `sub-q${run}-${name}`;

beforeAll(async () => {
  engine = new KeystoneContractEngine(adminCredentials());
  client = new CloudClient(adminCredentials());
  for (const [name, { plan, defaults }] of Object.entries(PLANS)) {
    const settings: TenantSettings = { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string, quotaDefaults: defaults ?? SETTINGS.quotaDefaults };
    const state = foldEvent(null, event(`q${run}-${name}`, "subscription.created", { plan })).state;
    if (!state) throw new Error("the created event folded to nothing");
    const spec = tenantSpecOf(state, settings);
    await engine.up({ stack: stackOf(name), message: `quota contract ${name}`, spec, password: generatePassword() });
    const outputs = await engine.outputs(stackOf(name));
    tenants[name] = { spec, projectId: outputs?.projectId as string };
  }
});
afterAll(async () => {
  for (const name of Object.keys(tenants)) await engine?.destroy({ stack: stackOf(name) });
});

/**
 * `openstack quota show` merges the three quota sets under its own names (python-openstackclient 6.0,
 * openstackclient/common/quota.py: COMPUTE_QUOTAS, VOLUME_QUOTAS, NETWORK_QUOTAS, and openstacksdk's
 * network quota names). Nova's floating_ips, security_groups and security_group_rules share names with
 * Neutron's and are hidden behind them there, so those three are read with `nova quota-show` (microversion
 * 2.1: they were removed from the API in 2.36).
 */
const OSC_NAMES: { [S in keyof QuotaSets]: Partial<Record<keyof QuotaSets[S], string>> } = {
  compute: {
    cores: "cores", ram: "ram", instances: "instances", fixedIps: "fixed-ips", keyPairs: "key-pairs", metadataItems: "properties",
    injectedFiles: "injected-files", injectedFileContentBytes: "injected-file-size", injectedFilePathBytes: "injected-path-size",
    serverGroups: "server-groups", serverGroupMembers: "server-group-members",
  },
  blockStorage: {
    gigabytes: "gigabytes", volumes: "volumes", snapshots: "snapshots", backups: "backups", backupGigabytes: "backup-gigabytes",
    perVolumeGigabytes: "per-volume-gigabytes", groups: "groups",
  },
  network: {
    floatingip: "floating-ips", network: "networks", subnet: "subnets", port: "ports", router: "routers", securityGroup: "secgroups",
    securityGroupRule: "secgroup-rules", rbacPolicy: "rbac_policies", subnetpool: "subnet_pools",
  },
};
const NOVA_ONLY = { floatingIps: "floating_ips", securityGroups: "security_groups", securityGroupRules: "security_group_rules" } as const;

/** The project's three quota sets as the real CLIs show them, in our field names. */
function readWithCli(projectId: string): QuotaSets {
  const shown = cliJson<Record<string, number>>("openstack", ["quota", "show", projectId], adminEnv());
  const nova = cli("nova", ["--os-compute-api-version", "2.1", "quota-show", "--tenant", projectId], adminEnv());
  expect(nova.status, nova.stderr).toBe(0);
  const novaRows = Object.fromEntries([...nova.stdout.matchAll(/^\|\s*(\w+)\s*\|\s*(-?\d+)\s*\|$/gm)].map((m) => [m[1], Number(m[2])]));
  const pick = (names: Record<string, string>, from: Record<string, number>) => Object.fromEntries(Object.entries(names).map(([ours, theirs]) => [ours, from[theirs]]));
  return QuotaSets.parse({
    compute: { ...pick(OSC_NAMES.compute, shown), ...pick(NOVA_ONLY, novaRows) },
    blockStorage: pick(OSC_NAMES.blockStorage, shown),
    network: pick(OSC_NAMES.network, shown),
  });
}

describe("the quota contract with the real Nova, Cinder and Neutron", () => {
  it("the test's CLI names cover every quota field exactly once (a new field cannot go unchecked)", () => {
    for (const s of ["compute", "blockStorage", "network"] as const) {
      const covered = [...Object.keys(OSC_NAMES[s]), ...(s === "compute" ? Object.keys(NOVA_ONLY) : [])].sort();
      expect(covered).toEqual(Object.keys(QUOTA_API_FIELDS[s]).sort());
    }
  });

  it("the provider's create keeps Nova's and Cinder's zeros but drops Neutron's: a 0-IP plan is left with Neutron's default of 50", async () => {
    const { projectId } = tenants["zero-ips"] as { projectId: string };
    const writes = engine.quotaWrites.filter((w) => w.stack === stackOf("zero-ips"));
    expect(writes.find((w) => w.type.includes("quotaSetV2"))?.sent).toMatchObject({ floating_ips: 0 });
    expect(writes.find((w) => w.type.includes("quotaV2"))?.sent).not.toHaveProperty("floatingip");
    expect((await readQuotaSet(client, projectId, "compute")).floatingIps).toBe(0);
    expect((await readQuotaSet(client, projectId, "network")).floatingip).toBe(50);
  });

  it("afterUp corrects exactly what differs from what was bought (the 0-IP plan's floating IPs), and nothing on the others", async () => {
    const guard = new CloudGuard(client, { policy: "hold", pollMs: 100, timeoutMs: 10_000 });
    const corrections: Record<string, string[]> = {};
    for (const [name, t] of Object.entries(tenants)) corrections[name] = await guard.afterUp(t.projectId, t.spec);
    expect(corrections).toEqual({ smallest: [], largest: [], "zero-ips": ["network floatingip 50 -> 0"], payg: [] });
    // A second pass finds nothing left to correct.
    const zero = tenants["zero-ips"] as { projectId: string; spec: TenantSpec };
    expect(await guard.afterUp(zero.projectId, zero.spec)).toEqual([]);
  });

  it("given what the provider read back after writing (a real update's events), afterUp asks the services only about a set that differs", async () => {
    const zero = tenants["zero-ips"] as { projectId: string; spec: TenantSpec };
    const counting = new CloudClient(adminCredentials());
    const asked: string[] = [];
    const request = counting.request.bind(counting) as (...a: unknown[]) => Promise<unknown>;
    counting.request = ((...a: unknown[]) => {
      asked.push(`${String(a[0])} ${String(a[1])}`);
      return request(...a);
    }) as CloudClient["request"];
    const guard = new CloudGuard(counting, { policy: "hold", pollMs: 100, timeoutMs: 10_000 });
    // Read back exactly as bought, or not written by the update at all: nothing to ask.
    expect(await guard.afterUp(zero.projectId, zero.spec, { ...zero.spec.quotas })).toEqual([]);
    expect(await guard.afterUp(zero.projectId, zero.spec, {})).toEqual([]);
    expect(asked).toEqual([]);
    // The official plugin's Neutron create drops the 0 and its read shows Neutron's 50: only Neutron is asked, and corrected.
    await counting.request("network", "PUT", `/v2.0/quotas/${zero.projectId}`, z.unknown(), { quota: { floatingip: 50 } });
    asked.length = 0;
    const readBack = { ...zero.spec.quotas, network: { ...zero.spec.quotas.network, floatingip: 50 } };
    expect(await guard.afterUp(zero.projectId, zero.spec, readBack)).toEqual(["network floatingip 50 -> 0"]);
    expect(asked).toEqual(["network GET", "network PUT", "network GET"]);
    expect((await readQuotaSet(client, zero.projectId, "network")).floatingip).toBe(0);
    // A set written but not readable as a whole (null) is read from its service.
    asked.length = 0;
    expect(await guard.afterUp(zero.projectId, zero.spec, { blockStorage: null })).toEqual([]);
    expect(asked).toEqual(["block-storage GET"]);
  });

  it("every field of every plan reads back through `openstack quota show` exactly as declared: RAM in MB, -1 as -1", () => {
    for (const [name, t] of Object.entries(tenants)) {
      const shown = readWithCli(t.projectId);
      expect({ name, quotas: shown }).toEqual({ name, quotas: t.spec.quotas });
    }
    expect(readWithCli((tenants.largest as { projectId: string }).projectId).compute.ram).toBe(256 * 1024);
    const payg = tenants.payg as { spec: TenantSpec };
    expect(payg.spec.quotas.network.port).toBe(-1); // and the equality above read -1 back
  }, 900_000); // two CLI starts per plan: 2-4 s each on an idle machine, up to 30 s on a loaded one

  it("`openstack quota list --detail` shows the same limits with nothing in use in a new tenant", () => {
    const { projectId, spec } = tenants.smallest as { projectId: string; spec: TenantSpec };
    const compute = cliJson<Array<{ Resource: string; Limit: number; "In Use": number }>>("openstack", ["quota", "list", "--detail", "--compute", "--project", projectId], adminEnv());
    expect(compute.find((r) => r.Resource === "cores")).toMatchObject({ Limit: spec.quotas.compute.cores, "In Use": 0 });
    expect(compute.find((r) => r.Resource === "ram")).toMatchObject({ Limit: 1024, "In Use": 0 });
    const network = cliJson<Array<{ Resource: string; Limit: number; "In Use": number }>>("openstack", ["quota", "list", "--detail", "--network", "--project", projectId], adminEnv());
    expect(network.find((r) => r.Resource === "floating_ips")).toMatchObject({ Limit: 1, "In Use": 0 });
  }, 600_000);

  it("a misspelt quota field is caught: the provider has no such attribute, and each real service refuses the key with a 400", async () => {
    const { projectId } = tenants.smallest as { projectId: string };
    expect(() => declaredAttributes({ type: "openstack:networking/quotaV2:QuotaV2", name: "network-quota", inputs: { floatingIp: 2 } })).toThrow(/no attribute 'floating_ip'/);
    const any = z.unknown();
    await expect(client.request("compute", "PUT", `/os-quota-sets/${projectId}`, any, { quota_set: { floating_ip: 2 } })).rejects.toThrow(/400.*floating_ip/);
    await expect(client.request("block-storage", "PUT", `/os-quota-sets/${projectId}`, any, { quota_set: { gigabyte: 2 } })).rejects.toThrow(/400.*Bad key\(s\) in quota set: gigabyte/);
    await expect(client.request("network", "PUT", `/v2.0/quotas/${projectId}`, any, { quota: { floating_ip: 2 } })).rejects.toThrow(/400.*Unrecognized attribute\(s\) 'floating_ip'/);
  });

  it("a plan change is applied as the provider's update, only the fields that changed, and lands exactly", async () => {
    const t = tenants.smallest as { spec: TenantSpec; projectId: string };
    const state = foldEvent(null, event(`q${run}-smallest`, "subscription.created", { plan: { model: "prepaid", cores: 2, ramGb: 3, diskGb: 1, floatingIps: 1 } })).state;
    if (!state) throw new Error("no state");
    const spec = tenantSpecOf(state, { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string });
    await engine.up({ stack: stackOf("smallest"), message: "resize", spec, password: (await engine.outputs(stackOf("smallest")))?.password as string });
    const update = engine.quotaWrites.filter((w) => w.stack === stackOf("smallest")).slice(3);
    expect(update).toEqual([{ stack: stackOf("smallest"), type: "openstack:compute/quotaSetV2:QuotaSetV2", sent: { ram: 3072, cores: 2, instances: 2 } }]);
    expect(await readQuotaSet(client, t.projectId, "compute")).toEqual(spec.quotas.compute);
    tenants.smallest = { ...t, spec };
  });
});
