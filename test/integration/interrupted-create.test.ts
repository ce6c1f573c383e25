import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantSpecOf } from "../../src/domain/tenant-spec.js";
import { foldEvent } from "../../src/domain/subscription.js";
import { generatePassword } from "../../src/domain/password.js";
import { authenticate } from "../../src/openstack/keystone.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { CloudGuard } from "../../src/provisioning/tenant-guard.js";
import { event } from "../support/events.js";
import { harnessWith } from "../support/harness.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, testcloud } from "../support/testcloud.js";

/**
 * A `pulumi up` killed during a create leaves pending CREATE operations: Keystone has the project and the
 * user, the stack's state does not. On the real Keystone of the test cloud: the retry adopts them.
 */
const run = Date.now().toString(36);
let h: Awaited<ReturnType<typeof harnessWith<KeystoneContractEngine>>>;
let settings: typeof SETTINGS;

beforeAll(async () => {
  settings = { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string };
  h = await harnessWith(new KeystoneContractEngine(adminCredentials()), {
    settings,
    guard: new CloudGuard(new CloudClient(adminCredentials()), { policy: "purge", pollMs: 100, timeoutMs: 10_000 }),
  });
});
afterAll(async () => h?.close());

/** Keystone's own answer: every project and user of that name in the domain. */
async function named(name: string): Promise<{ projects: string[]; users: string[] }> {
  const admin = adminCredentials();
  const { token } = await authenticate(admin);
  const get = async (path: string) => (await (await fetch(`${admin.authUrl}${path}`, { headers: { "x-auth-token": token } })).json()) as Record<string, Array<{ id: string }>>;
  return {
    projects: (await get(`/projects?name=${name}&domain_id=default`)).projects?.map((p) => p.id) ?? [],
    users: (await get(`/users?name=${name}&domain_id=default`)).users?.map((u) => u.id) ?? [],
  };
}

describe("a create interrupted after Keystone made the project and user", () => {
  it("the retry converges to exactly one project and one user, and the outputs name them", async () => {
    const id = `ic${run}`;
    await h.reconciler.stop();
    const created = event(id, "subscription.created");
    await h.send(created);
    const spec = tenantSpecOf(foldEvent(null, created).state as never, settings);
    // What the dead run left: an operation never finished, and the project and user in Keystone.
    await h.store.beginOperation(id, 1, "up", created.id, "dead-host:1:x");
    const left = await h.engine.interruptCreate({ stack: `sub-${id}`, spec, password: generatePassword() });
    expect(await named(`sub-${id}`)).toEqual({ projects: [left.projectId], users: [left.userId] });

    h.reconciler.start();
    await h.reconciler.idle();
    const sub = await h.store.get(id);
    expect(sub?.lastError).toBeNull();
    expect(sub?.phase).toBe("ready");
    expect(await named(`sub-${id}`)).toEqual({ projects: [left.projectId], users: [left.userId] });
    expect(sub?.outputs).toMatchObject({ projectId: left.projectId, userId: left.userId });
  });

  it("without the adoption the same retry is refused by Keystone with 409 (what the engine doubles model)", async () => {
    const id = `nc${run}`;
    const created = event(id, "subscription.created");
    const spec = tenantSpecOf(foldEvent(null, created).state as never, settings);
    await h.engine.interruptCreate({ stack: `sub-${id}`, spec, password: generatePassword() });
    const again = await h.engine.up({ stack: `sub-${id}`, spec, password: generatePassword(), message: "retry without adoption" }).catch((e: unknown) => e);
    expect(String(again)).toMatch(/409/);
  });

  it("a project of that name not tagged as this subscription's is never adopted", async () => {
    const id = `fc${run}`;
    const admin = adminCredentials();
    const { token } = await authenticate(admin);
    await fetch(`${admin.authUrl}/projects`, {
      method: "POST", headers: { "x-auth-token": token, "content-type": "application/json" },
      body: JSON.stringify({ project: { name: `sub-${id}`, domain_id: "default", tags: ["someone-else"] } }),
    });
    const spec = tenantSpecOf(foldEvent(null, event(id, "subscription.created")).state as never, settings);
    const found = await new CloudGuard(new CloudClient(admin), { policy: "purge", pollMs: 100, timeoutMs: 1000 }).leftoversOf(spec).catch((e: unknown) => e);
    expect(String(found)).toMatch(/without the tag subscription:fc.*not adopted/);
  });
});
