import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TenantObservation } from "../../src/domain/tenant-observation.js";
import { tenantSpecOf, type TenantSettings } from "../../src/domain/tenant-spec.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { observeTenant } from "../../src/openstack/tenant-observation.js";
import { tenantPrecheck } from "../../src/provisioning/drift-precheck.js";
import type { DriftReport } from "../../src/provisioning/engine.js";
import { CloudGuard } from "../../src/provisioning/tenant-guard.js";
import { event, PREPAID } from "../support/events.js";
import { harnessWith } from "../support/harness.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, adminEnv, cli, testcloud } from "../support/testcloud.js";

const run = Date.now().toString(36);
/** One tenant per change made by hand, and one nobody touches (a 0-IP plan: Neutron's create dropped its 0, afterUp put it). */
const T = { untouched: `o${run}z`, quota: `o${run}q`, user: `o${run}u`, role: `o${run}r`, project: `o${run}p` };

/** The Keystone contract engine, counting what a drift check asks of it (it has no refresh preview to give). */
class CountingEngine extends KeystoneContractEngine {
  readonly driftCalls: string[] = [];
  override async drift(...args: unknown[]): Promise<DriftReport | null> {
    this.driftCalls.push(String(args[0]));
    return super.drift();
  }
}

/** Every OpenStack request the observation makes, but the admin's logins. */
const requests: string[] = [];
const counting: typeof fetch = (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  if (!url.endsWith("/auth/tokens")) requests.push(`${init?.method ?? "GET"} ${new URL(url).pathname}`);
  return fetch(input, init);
};

let h: Awaited<ReturnType<typeof harnessWith<CountingEngine>>>;
let client: CloudClient;
let settings: TenantSettings;
const observations = new Map<string, TenantObservation>();

beforeAll(async () => {
  settings = { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string };
  client = new CloudClient(adminCredentials(), counting);
  h = await harnessWith(new CountingEngine(adminCredentials()), {
    // One create at a time: the contract engine cannot resume a create that a slow Nova made time out.
    settings, concurrency: 1,
    guard: new CloudGuard(new CloudClient(adminCredentials()), { policy: "purge", pollMs: 100, timeoutMs: 10_000 }),
    driftObserve: tenantPrecheck({ client, settings, log: { debug() {}, info() {}, warn() {}, error() {} }, onObservation: (id, o) => observations.set(id, o) }),
  });
  for (const [name, id] of Object.entries(T)) {
    expect((await h.send(event(id, "subscription.created", name === "untouched" ? { plan: { ...PREPAID, floatingIps: 0 } } : {}))).status).toBe(202);
  }
  await h.reconciler.idle();
  for (const id of Object.values(T)) {
    const sub = await h.store.get(id);
    if (sub?.phase !== "ready") console.log(h.logs.filter((l) => l.includes(id) && /error|fail/i.test(l)).join("\n"));
    expect({ id, phase: sub?.phase, error: sub?.lastError }).toEqual({ id, phase: "ready", error: null });
  }
}, 300_000);
afterAll(async () => {
  await h?.reconciler.stop();
  for (const id of Object.values(T)) await h?.engine.destroy({ stack: `sub-${id}` }).catch(() => undefined);
});

const idsOf = async (id: string) => {
  const outputs = (await h.store.get(id))?.outputs;
  if (!outputs) throw new Error(`${id} recorded no outputs`);
  return { projectId: outputs.projectId, userId: outputs.userId };
};
async function observe(id: string) {
  const sub = await h.store.get(id);
  if (!sub) throw new Error(`no subscription ${id}`);
  requests.length = 0;
  const seen = await observeTenant(client, await idsOf(id), tenantSpecOf(sub.desired, settings));
  return { seen, requests: [...requests] };
}
const sweep = async () => ((await (await h.asOperator("/v1/drift/checks", { method: "POST" })).json()) as { results: Array<{ subscription: string; outcome: string; state?: string }> }).results;
function byHand(args: string[]) {
  const r = cli("openstack", args, adminEnv());
  expect(r.status, r.stderr).toBe(0);
}

describe("observing tenants on the real Keystone, Nova, Cinder and Neutron", () => {
  it("tenants made as the service makes them are in sync, in 6 requests each, and a sweep of them asks the engine nothing", async () => {
    const { seen, requests: made } = await observe(T.untouched);
    expect(seen).toEqual({ state: "in_sync" });
    const { projectId, userId } = await idsOf(T.untouched);
    expect(made).toHaveLength(6);
    expect(made).toEqual(expect.arrayContaining([
      `GET /v3/projects/${projectId}`, `GET /v3/role_assignments`, `GET /v3/users/${userId}`,
      expect.stringMatching(new RegExp(`^GET /v2\\.0/quotas/${projectId}$`)),
      expect.stringMatching(new RegExp(`^GET /v2\\.1/os-quota-sets/${projectId}$`)),
      expect.stringMatching(new RegExp(`^GET /v3/[^/]+/os-quota-sets/${projectId}$|^GET /v3/os-quota-sets/${projectId}$`)),
    ]));

    requests.length = 0;
    const results = await sweep();
    const ours = results.filter((r) => Object.values(T).includes(r.subscription));
    expect(ours.map((r) => [r.subscription, r.state])).toEqual(Object.values(T).sort().map((id) => [id, "in_sync"]));
    expect(h.engine.driftCalls).toEqual([]);
    const perProject = requests.length / results.length;
    console.log(`drift sweep of ${results.length} in-sync stacks: ${requests.length} OpenStack requests (${perProject} per project), ${h.engine.driftCalls.length} engine calls`);
    expect(perProject).toBe(6);
  }, 120_000);

  it("a quota raised by hand (`openstack quota set`) is named, field by field", async () => {
    const { projectId } = await idsOf(T.quota);
    byHand(["quota", "set", "--cores", "40", "--gigabytes", "999", projectId]);
    expect((await observe(T.quota)).seen).toEqual({
      state: "differs",
      differences: [
        { resource: "compute-quota", type: "openstack:compute/quotaSetV2:QuotaSetV2", change: "update", properties: ["cores"] },
        { resource: "blockstorage-quota", type: "openstack:blockstorage/quoteSetV3:QuoteSetV3", change: "update", properties: ["gigabytes"] },
      ],
    });
  }, 300_000);

  it("a user disabled by hand (`openstack user set --disable`) is named", async () => {
    const { userId } = await idsOf(T.user);
    byHand(["user", "set", "--disable", userId]);
    expect((await observe(T.user)).seen).toEqual({
      state: "differs",
      differences: [{ resource: "user", type: "openstack:identity/user:User", change: "update", properties: ["enabled"] }],
    });
  }, 300_000);

  it("the member role removed by hand (`openstack role remove`) is the role assignment's deletion", async () => {
    const { projectId, userId } = await idsOf(T.role);
    byHand(["role", "remove", "--user", userId, "--project", projectId, settings.memberRole]);
    expect((await observe(T.role)).seen).toEqual({
      state: "differs",
      differences: [{ resource: "member", type: "openstack:identity/roleAssignment:RoleAssignment", change: "delete", properties: [] }],
    });
  }, 300_000);

  it("a project deleted by hand is the project's deletion, found in one request", async () => {
    const { projectId } = await idsOf(T.project);
    byHand(["project", "delete", projectId]);
    const { seen, requests: made } = await observe(T.project);
    expect(seen).toEqual({ state: "differs", differences: [{ resource: "project", type: "openstack:identity/project:Project", change: "delete", properties: [] }] });
    expect(made).toEqual([`GET /v3/projects/${projectId}`]);
  }, 300_000);

  it("the next sweep pays for a refresh preview exactly where something differs", async () => {
    const results = await sweep();
    expect(h.engine.driftCalls.sort()).toEqual([T.project, T.quota, T.role, T.user].map((id) => `sub-${id}`).sort());
    expect(results.find((r) => r.subscription === T.untouched)?.state).toBe("in_sync");
    // The contract engine has no refresh preview: the check it was asked for fails, as a check does.
    expect(results.find((r) => r.subscription === T.quota)?.outcome).toBe("failed");
    expect(observations.get(T.quota)).toMatchObject({ state: "differs" });
  }, 120_000);

  it("compares with the declaration the stack was last updated with: a changed quota defaults file waiting for its rollout is not drift", async () => {
    const defaults = settings.quotaDefaults;
    const changed: TenantSettings = { ...settings, quotaDefaults: { ...defaults, compute: { ...defaults.compute, keyPairs: defaults.compute.keyPairs + 7 } } };
    const look = tenantPrecheck({ client, settings: changed, log: { debug() {}, info() {}, warn() {}, error() {} } });
    const sub = await h.store.get(T.untouched);
    if (!sub) throw new Error("no subscription");
    const declared = await h.store.declaredSpec(T.untouched);
    expect(declared).toMatchObject({ projectName: `sub-${T.untouched}` });
    expect(await look(sub, declared)).toBe("in_sync");
    // Rebuilt from the new settings instead (a stack updated before declarations were recorded), it differs.
    expect(await look(sub, null)).toBe("differs");
  }, 120_000);
});
