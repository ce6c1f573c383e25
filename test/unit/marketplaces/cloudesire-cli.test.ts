import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantctlAt } from "../../support/tenantctl.js";
import { CD_SECRET, CD_TOKEN, cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";

let scene: Awaited<ReturnType<typeof cloudesireScene>>;
const { run: tenantctl } = tenantctlAt(() => scene.url);

beforeAll(async () => {
  scene = await cloudesireScene();
}, 300_000);
afterAll(async () => scene.close());

describe("tenantctl for Cloudesire", { timeout: 400_000 }, () => {
  it("cloudesire doctor: secret set, API reachable, token accepted; a refused token or a missing secret fails with exit 1", async () => {
    const env = { CLOUDESIRE_API_URL: scene.sim.url, CLOUDESIRE_TOKEN: CD_TOKEN, CLOUDESIRE_EVENT_SECRET: CD_SECRET, CLOUDESIRE_DASHBOARD_URL: "https://dashboard.cloud.example" };
    const ok = await tenantctl(["cloudesire", "doctor"], env);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^OK\s+api: .* answers and accepts the token$/m);
    const refused = await tenantctl(["cloudesire", "doctor"], { ...env, CLOUDESIRE_TOKEN: "revoked-token" });
    expect(refused.status).toBe(1);
    expect(refused.stdout).toMatch(/^FAIL\s+api: .*refuses the token \(401\)/m);
    expect(refused.stdout + refused.stderr).not.toContain("revoked-token");
    const unset = await tenantctl(["cloudesire", "doctor"], { CLOUDESIRE_API_URL: scene.sim.url, CLOUDESIRE_TOKEN: CD_TOKEN });
    expect(unset.status).toBe(1);
    expect(unset.stdout).toMatch(/^FAIL\s+notification secret: CLOUDESIRE_EVENT_SECRET is not set/m);
    expect(unset.stdout).toMatch(/^WARN\s+dashboard:/m);
  });

  it("cloudesire sync re-reads a subscription now; show lists its reads and its outbox; dead-letters lists calls waiting for an operator", async () => {
    const { sim, h } = scene;
    sim.order(401, { type: "NORMAL" });
    await sim.notify(401, "CREATED");
    await settled(scene, "401");
    // Paid, but the notification is lost: an operator asks for the read.
    sim.set(401, { paid: true, deploymentStatus: "PENDING" });
    sim.inject("PATCH", /^subscription\/401$/, "400", 1);
    const sync = await tenantctl(["cloudesire", "sync", "401"]);
    expect(sync.status).toBe(0);
    expect(sync.stdout).toContain("read of Cloudesire subscription 401 queued");
    await until(async () => (await h.cloudesire.store.deadLetters()).length === 1, "the refused DEPLOYED");
    const show = await tenantctl(["show", "401"]);
    expect(show.stdout).toMatch(/^cloudesire:\s+PENDING \(paid: true\)/m);
    expect(show.stdout).toMatch(/^\d+\s+credentials\s+sent\s+1/m);
    expect(show.stdout).toMatch(/^(\d+)\s+status\s+dead\s+1 .*400/m);
    const dead = await tenantctl(["dead-letters"]);
    expect(dead.stdout).toContain("calls back to Cloudesire waiting for an operator");
    const call = /^(\d+)\s+401\s+status\s+dead/m.exec(dead.stdout)?.[1];
    expect(call).toBeDefined();
    const resolved = await tenantctl(["cloudesire", "resolve", call as string, "resend"]);
    expect(resolved.stdout).toContain(`call ${call} (status) is now pending`);
    await until(() => sim.patches.some((p) => p.subscription === 401 && p.deploymentStatus === "DEPLOYED"), "DEPLOYED after the resend");
    expect((await tenantctl(["cloudesire", "resolve", call as string, "maybe"])).status).toBe(2);
  });
});
