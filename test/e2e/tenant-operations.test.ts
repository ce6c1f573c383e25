import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Credentials, E2eService, login, quotaShow, requireRealEngine } from "../support/e2e-service.js";
import { event, PREPAID } from "../support/events.js";
import { adminEnv, cli } from "../support/testcloud.js";

/**
 * What an operator does to a running tenant, on the real engine: drift made by hand with `openstack quota
 * set` found by a refresh preview, repaired by a refreshing update or accepted; a password rotation; a
 * preview that shows nothing to do when in sync; the stack history as `tenantctl history` and the operator's
 * own `pulumi stack history` (with `tenantctl pulumi-env`) show it, naming each update's cause.
 */
const run = Date.now().toString(36);
const svc = new E2eService();
const id = `e2eo${run}`;
const plan = { ...PREPAID, cores: 3, ramGb: 6, diskGb: 40, floatingIps: 1 };
let projectId = "";
let token = "";

beforeAll(async () => {
  requireRealEngine();
  await svc.start();
  const res = await svc.send(event(id, "subscription.created", { plan }));
  token = ((await res.json()) as { credentialsToken: string }).credentialsToken;
  projectId = (await svc.settle(id)).outputs?.projectId as string;
}, 600_000);
afterAll(async () => {
  await svc.send(event(id, "subscription.cancelled"));
  await svc.settle(id, "cancelled").catch(() => undefined);
  await svc.close();
});

const CheckResults = z.object({ results: z.array(z.object({ state: z.string().optional() })) });
const checkDrift = async () => CheckResults.parse(await (await svc.post(`/v1/subscriptions/${id}/drift/check`)).json()).results[0]?.state;

describe("drift on the real engine", () => {
  it("a quota changed with `openstack quota set` is found, repaired by a refreshing update, and the stack is in sync again", async () => {
    expect(await checkDrift()).toBe("in_sync");
    expect(cli("openstack", ["quota", "set", "--cores", "40", projectId], adminEnv()).status).toBe(0);
    expect(await checkDrift()).toBe("drifted");
    expect((await svc.post(`/v1/subscriptions/${id}/drift/repair`)).status).toBe(202);
    await svc.settle(id);
    expect(quotaShow(projectId)).toMatchObject({ cores: 3 });
    expect(await checkDrift()).toBe("in_sync");
  });

  it("accepted drift is not reported again until it changes", async () => {
    expect(cli("openstack", ["quota", "set", "--ram", "10240", projectId], adminEnv()).status).toBe(0);
    expect(await checkDrift()).toBe("drifted");
    expect((await svc.post(`/v1/subscriptions/${id}/drift/accept`)).status).toBe(200);
    expect(await checkDrift()).toBe("accepted");
    // Accepted are these differences (the RAM quota set's `ram`): a sweep of the same says accepted again;
    // another property drifting is new and is reported.
    expect(await checkDrift()).toBe("accepted");
    expect(cli("openstack", ["quota", "set", "--cores", "9", projectId], adminEnv()).status).toBe(0);
    expect(await checkDrift()).toBe("drifted");
    // Back to what was bought, for the tests after this one.
    expect((await svc.post(`/v1/subscriptions/${id}/drift/repair`)).status).toBe(202);
    await svc.settle(id);
    expect(quotaShow(projectId)).toMatchObject({ ram: 6144, cores: 3 });
  });
});

describe("operators' tools on the real engine", () => {
  const credentials = async () => Credentials.parse(await (await svc.fetchAs(token, `/v1/subscriptions/${id}/credentials`)).json());

  it("a password rotation: the new password logs in, the old one is refused", async () => {
    const before = await credentials();
    expect((await svc.post(`/v1/subscriptions/${id}/rotate-password`)).status).toBe(202);
    await svc.settle(id);
    const after = await credentials();
    expect(after.password).not.toBe(before.password);
    expect(await login(before)).toBe(401);
    expect(await login(after)).toBe(201);
  });

  it("`tenantctl preview` of a stack in sync has no changes", async () => {
    const { stdout } = await svc.tenantctl(["preview", id, "--json"]);
    const preview = z.object({ changeSummary: z.record(z.string(), z.number()) }).parse(JSON.parse(stdout));
    expect(Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && n > 0)).toEqual([]);
  });

  it("`tenantctl history` and `pulumi stack history` name each update's cause", async () => {
    const { stdout } = await svc.tenantctl(["history", id, "--json"]);
    const ours = z.object({ history: z.array(z.object({ message: z.string(), result: z.string() })) }).parse(JSON.parse(stdout)).history;
    expect(ours.every((h) => h.result === "succeeded")).toBe(true);
    expect(ours.some((h) => /subscription\.created/.test(h.message))).toBe(true);
    expect(ours.some((h) => /drift repair/.test(h.message))).toBe(true);
    expect(ours.some((h) => /password rotat/.test(h.message))).toBe(true);
    // The operator at a shell, from the service's project directory with `tenantctl pulumi-env`'s exports.
    const theirs = z.array(z.object({ message: z.string() })).parse(JSON.parse(await svc.pulumi(["stack", "history", "--stack", `sub-${id}`, "--json"])));
    expect(theirs.map((h) => h.message)).toEqual(ours.map((h) => h.message));
  });
});
