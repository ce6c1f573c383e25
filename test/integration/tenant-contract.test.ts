import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { event } from "../support/events.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { CloudGuard } from "../../src/provisioning/tenant-guard.js";
import { harnessWith } from "../support/harness.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, cleanEnv, testcloud } from "../support/testcloud.js";

const dir = mkdtempSync(join(tmpdir(), "contract-"));
const run = Date.now().toString(36);
const A = `a${run}`;
const B = `b${run}`;

let h: Awaited<ReturnType<typeof harnessWith<KeystoneContractEngine>>>;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  // The production guard, on the test cloud's real Nova, Cinder and Neutron: these tenants use nothing,
  // so it lets updates through and has nothing to purge on cancellation (but the default security group).
  const client = new CloudClient(adminCredentials());
  h = await harnessWith(new KeystoneContractEngine(adminCredentials()), {
    settings: { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string },
    guard: new CloudGuard(client, { policy: "purge", pollMs: 100, timeoutMs: 10_000 }),
  });
  for (const id of [A, B]) {
    const res = await h.send(event(id, "subscription.created"));
    expect(res.status).toBe(202);
    tokens[id] = ((await res.json()) as { credentialsToken: string }).credentialsToken;
  }
  await h.reconciler.idle();
});
afterAll(async () => {
  await h?.reconciler.stop();
});

async function served(id: string, format: "clouds.yaml" | "openrc"): Promise<string> {
  const res = await h.app.request(`/v1/subscriptions/${id}/credentials?format=${format}`, { headers: { authorization: `Bearer ${tokens[id]}` } });
  expect(res.status).toBe(200);
  const file = join(dir, `${id}.${format}`);
  writeFileSync(file, await res.text());
  return file;
}

/** The real openstack CLI, as the customer would run it with the clouds.yaml we served. */
function openstackAs(id: string, cloudsFile: string, args: string[]) {
  return spawnSync("openstack", ["--os-cloud", `sub-${id}`, ...args, "-f", "json"], {
    encoding: "utf8", env: cleanEnv({ OS_CLIENT_CONFIG_FILE: cloudsFile }), timeout: 60_000,
  });
}

describe("the tenant contract with a real Keystone", () => {
  it("both subscriptions were provisioned from exactly the program's declared inputs", async () => {
    expect((await h.store.get(A))?.phase).toBe("ready");
    const posts = h.engine.applied.filter((c) => c.method === "POST" && c.path === "/projects");
    // (the two subscriptions are provisioned in parallel: in either order)
    expect(posts.map((p) => (p.body as { project: { name: string } }).project.name).sort()).toEqual([`sub-${A}`, `sub-${B}`]);
  });

  it("the served clouds.yaml works with `openstack token issue` and `project show`, scoped to the new project", async () => {
    const clouds = await served(A, "clouds.yaml");
    const token = openstackAs(A, clouds, ["token", "issue"]);
    expect(token.status, token.stderr).toBe(0);
    const outputs = (await h.store.get(A))?.outputs;
    expect(JSON.parse(token.stdout)).toMatchObject({ project_id: outputs?.projectId, user_id: outputs?.userId });
    const project = openstackAs(A, clouds, ["project", "show", outputs?.projectId as string]);
    expect(project.status, project.stderr).toBe(0);
    expect(JSON.parse(project.stdout)).toMatchObject({ name: `sub-${A}`, enabled: true });
  });

  it("the served openrc works when sourced", async () => {
    const openrc = await served(A, "openrc");
    const r = spawnSync("bash", ["-c", `. '${openrc}' && openstack token issue -f value -c project_id`], { encoding: "utf8", env: cleanEnv(), timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe((await h.store.get(A))?.outputs?.projectId);
  });

  it("a second subscription's credentials cannot see the first one's project", async () => {
    const cloudsB = await served(B, "clouds.yaml");
    const projectA = (await h.store.get(A))?.outputs?.projectId as string;
    const r = openstackAs(B, cloudsB, ["project", "show", projectA]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/403|Forbidden|not authorized|No project/i);
  });

  it("suspension locks the customer out in Keystone, and resuming lets them back in", async () => {
    const clouds = await served(A, "clouds.yaml");
    await h.send(event(A, "subscription.suspended"));
    await h.reconciler.idle();
    const locked = openstackAs(A, clouds, ["token", "issue"]);
    expect(locked.status).not.toBe(0);
    expect(locked.stderr).toMatch(/401|not authorized|disabled/i);
    await h.send(event(A, "subscription.resumed"));
    await h.reconciler.idle();
    const back = openstackAs(A, clouds, ["token", "issue"]);
    expect(back.status, back.stderr).toBe(0);
  });

  it("cancellation deletes the project and user in Keystone; the credentials stop working", async () => {
    const clouds = await served(B, "clouds.yaml");
    await h.send(event(B, "subscription.cancelled"));
    await h.reconciler.idle();
    expect((await h.store.get(B))?.phase).toBe("cancelled");
    expect(openstackAs(B, clouds, ["token", "issue"]).status).not.toBe(0);
    const admin = execFileSync("openstack", ["project", "list", "-f", "value", "-c", "Name"], { encoding: "utf8", env: cleanEnv(Object.fromEntries(Object.entries(testcloud()).filter(([k]) => k.startsWith("OS_")))) });
    expect(admin).not.toContain(`sub-${B}`);
    expect(admin).toContain(`sub-${A}`);
  });
});
