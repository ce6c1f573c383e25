import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_QUOTA_DEFAULTS } from "../../src/domain/quota.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { CloudGuard } from "../../src/provisioning/tenant-guard.js";
import { Customer } from "../support/customer.js";
import { event, PREPAID } from "../support/events.js";
import { harnessWith } from "../support/harness.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, adminEnv, cli, cliJson, testcloud } from "../support/testcloud.js";

const ID = `c${Date.now().toString(36)}`;
/** What was bought: 10 GB of disk and 2 IP addresses; the operator's defaults allow 2 networks, 2 subnets, 1 router. */
const PLAN = { ...PREPAID, cores: 2, ramGb: 4, diskGb: 10, floatingIps: 2 };
const DEFAULTS = { ...DEFAULT_QUOTA_DEFAULTS, network: { ...DEFAULT_QUOTA_DEFAULTS.network, network: 2, subnet: 2, router: 1 } };

let h: Awaited<ReturnType<typeof harnessWith<KeystoneContractEngine>>>;
let customer: Customer;
let os: { args: string[]; env: Record<string, string> };
let openrc = "";

beforeAll(async () => {
  const client = new CloudClient(adminCredentials());
  const guard = new CloudGuard(client, { policy: "purge", pollMs: 200, timeoutMs: 60_000 });
  h = await harnessWith(new KeystoneContractEngine(adminCredentials()), {
    settings: { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string, quotaDefaults: DEFAULTS },
    guard,
  });
  const res = await h.send(event(ID, "subscription.created", { plan: PLAN }));
  expect(res.status).toBe(202);
  const { credentialsToken } = (await res.json()) as { credentialsToken: string };
  await h.reconciler.idle();
  const sub = await h.store.get(ID);
  expect(sub?.phase).toBe("ready");
  // What the reconciler will run after each `up` (wired there by the integrator): the quota sets end as bought.
  const spec = h.engine.specOf(`sub-${ID}`);
  if (!spec) throw new Error("no spec applied");
  await guard.afterUp(sub?.outputs?.projectId as string, spec);
  customer = new Customer(h, ID, credentialsToken);
  os = await customer.openstackArgs();
  openrc = await customer.file("openrc");
}, 600_000);
afterAll(async () => {
  await h?.reconciler.stop();
});

/** The real `openstack` CLI as the customer, with the clouds.yaml the service served. */
const openstack = (...args: string[]) => cli("openstack", [...os.args, ...args], os.env);
/** The real `cinder` CLI as the customer, with the openrc the service served (cinderclient reads OS_* only). */
const cinder = (...args: string[]) => cli("bash", ["-c", `. '${openrc}' && cinder "$@"`, "cinder", ...args], os.env);

function ok(r: ReturnType<typeof cli>) {
  expect(r.status, r.stderr).toBe(0);
}
/** Refused by Neutron itself: 409 Conflict, quota exceeded for exactly this resource. */
function quotaExceeded(r: ReturnType<typeof cli>, resource: string) {
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain("409");
  expect(r.stderr).toContain(`Quota exceeded for resources: ['${resource}']`);
}

describe("the customer's tenant, used with the real CLIs and the credentials the service serves", () => {
  it("networks and subnets up to the limits are created; the next one is refused by Neutron (409)", () => {
    ok(openstack("network", "create", "net-1"));
    ok(openstack("network", "create", "net-2"));
    quotaExceeded(openstack("network", "create", "net-3"), "network");
    ok(openstack("subnet", "create", "subnet-1", "--network", "net-1", "--subnet-range", "10.1.0.0/24"));
    ok(openstack("subnet", "create", "subnet-2", "--network", "net-2", "--subnet-range", "10.2.0.0/24"));
    quotaExceeded(openstack("subnet", "create", "subnet-3", "--network", "net-1", "--subnet-range", "10.3.0.0/24"), "subnet");
  }, 900_000);

  it("one router with a gateway on the external network and an interface; a second router is refused (409)", () => {
    ok(openstack("router", "create", "router-1"));
    ok(openstack("router", "set", "router-1", "--external-gateway", testcloud().TESTCLOUD_EXTERNAL_NETWORK as string));
    ok(openstack("router", "add", "subnet", "router-1", "subnet-1"));
    quotaExceeded(openstack("router", "create", "router-2"), "router");
  }, 900_000);

  it("the IP addresses bought are floating IPs the customer can allocate; the next one is refused (409)", () => {
    const ext = testcloud().TESTCLOUD_EXTERNAL_NETWORK as string;
    ok(openstack("floating", "ip", "create", ext));
    ok(openstack("floating", "ip", "create", ext));
    quotaExceeded(openstack("floating", "ip", "create", ext), "floatingip");
  }, 900_000);

  it("volumes up to the disk bought are accepted; one more gigabyte is refused by Cinder (413)", () => {
    // OSC 6.0's `volume create` needs an image endpoint: the cinder CLI (recipe, error 5).
    ok(cinder("create", "--name", "data", "6"));
    ok(cinder("create", "--name", "logs", "4"));
    const over = cinder("create", "--name", "one-more", "1");
    expect(over.status).not.toBe(0);
    expect(over.stderr).toContain("VolumeSizeExceedsAvailableQuota");
    expect(over.stderr).toContain("HTTP 413");
  }, 900_000);

  it("the admin sees the tenant filled exactly to what was bought", async () => {
    const projectId = (await h.store.get(ID))?.outputs?.projectId as string;
    type Row = { Resource: string; "In Use": number; Limit: number };
    const network = cliJson<Row[]>("openstack", ["quota", "list", "--detail", "--network", "--project", projectId], adminEnv());
    const row = (rows: Row[], r: string) => rows.find((x) => x.Resource === r);
    expect(row(network, "floating_ips")).toMatchObject({ "In Use": 2, Limit: 2 });
    expect(row(network, "networks")).toMatchObject({ "In Use": 2, Limit: 2 });
    expect(row(network, "subnets")).toMatchObject({ "In Use": 2, Limit: 2 });
    expect(row(network, "routers")).toMatchObject({ "In Use": 1, Limit: 1 });
    // OSC 6.0 has no detailed volume quota view: `cinder quota-usage` (recipe, error 6).
    const usage = cli("cinder", ["quota-usage", projectId], adminEnv());
    expect(usage.status, usage.stderr).toBe(0);
    expect(usage.stdout).toMatch(/\|\s*gigabytes\s*\|\s*10\s*\|\s*0\s*\|\s*10\s*\|/); // in use 10, reserved 0, limit 10
    expect(usage.stdout).toMatch(/\|\s*volumes\s*\|\s*2\s*\|/);
  }, 900_000);
});
