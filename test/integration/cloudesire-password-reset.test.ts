import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudesireSceneWith, settled, until } from "../support/cloudesire-scene.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, testcloud } from "../support/testcloud.js";

// The customer's own password reset, against the test cloud's Keystone: the link Cloudesire shows opens
// our page, the new password opens Keystone, the old one no longer does.
const ID = 600_000 + (Date.now() % 100_000);
let scene: Awaited<ReturnType<typeof cloudesireSceneWith<KeystoneContractEngine>>>;
beforeAll(async () => {
  scene = await cloudesireSceneWith(new KeystoneContractEngine(adminCredentials()), {
    settings: { serviceUrl: "https://tenants.cloud.example" },
    tenant: { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string },
  });
}, 300_000);
afterAll(async () => {
  // The shared test cloud keeps nothing of ours: the project and user go.
  await scene?.h.engine.destroy({ stack: `sub-${ID}` }).catch(() => undefined);
  await scene?.close();
});

/** Keystone's answer to a password authentication scoped to the project (201: a token; 401: refused). */
async function keystone(user: string, password: string, projectId: string): Promise<number> {
  const res = await fetch(`${testcloud().OS_AUTH_URL}/auth/tokens`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ auth: { identity: { methods: ["password"], password: { user: { name: user, domain: { id: SETTINGS.domainId }, password } } }, scope: { project: { id: projectId } } } }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe("a Cloudesire customer resets the tenant's password", { timeout: 300_000 }, () => {
  it("from the PASSWORD_RESET link: the new password (shown on Cloudesire) opens Keystone, the old one is refused", async () => {
    const { sim, h, url } = scene;
    sim.order(ID, { type: "TRIAL" });
    await sim.notify(ID, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === ID && p.deploymentStatus === "DEPLOYED"), "DEPLOYED", 120_000);
    await settled(scene, String(ID));
    const shown = () => Object.fromEntries((sim.credentials.get(ID) ?? []).map((c) => [c.key, c.value]));
    const old = shown();
    const projectId = (await h.store.get(String(ID)))?.outputs?.projectId as string;
    expect(await keystone(old.username as string, old.password as string, projectId)).toBe(201);

    const reset = (sim.endpoints.get(ID) as Array<{ endpoint: string; category: string }>).find((e) => e.category === "PASSWORD_RESET");
    const link = new URL(reset?.endpoint ?? "");
    // The link shows a form; the form's own key (one use, expiring) sends the reset.
    const form = await (await fetch(`${url}${link.pathname}${link.search}`)).text();
    const formKey = /name="key" value="([^"]+)"/.exec(form)?.[1] ?? "";
    const res = await fetch(`${url}${link.pathname}`, { method: "POST", body: new URLSearchParams({ key: formKey }) });
    expect(res.status).toBe(202);
    await until(() => shown().password !== old.password, "the new password on Cloudesire", 120_000);
    await settled(scene, String(ID));

    expect(await keystone(old.username as string, shown().password as string, projectId)).toBe(201);
    expect(await keystone(old.username as string, old.password as string, projectId)).toBe(401);
  });
});
