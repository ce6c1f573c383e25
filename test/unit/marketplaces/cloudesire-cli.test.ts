import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantctlAt } from "../../support/tenantctl.js";
import { CD_SECRET, CD_TOKEN, cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";

let scene: Awaited<ReturnType<typeof cloudesireScene>>;
const { run: tenantctl } = tenantctlAt(() => scene.url);

const SERVICE = "https://tenants.cloud.example";
const PREPAID = (max: { ram?: number | null } = {}) => ({
  CPU_CORES: { ranges: [{ start: 1, end: 64 }] }, RAM_GB: { ranges: [{ start: 1, end: max.ram === undefined ? 256 : max.ram }] },
  DISK_GB: { ranges: [{ start: 1, end: 2000 }] }, IP_ADDRESSES: { ranges: [{ start: 0, end: 16 }] },
});

beforeAll(async () => {
  scene = await cloudesireScene();
  // The Syndicated Product as README "Selling on Cloudesire" sets it up: a prepaid plan 77 and a PAYG plan 88.
  scene.sim.catalog(12, {
    syndicationEndpoints: [`${SERVICE}/v1/cloudesire/events`], orderValidationUrl: `${SERVICE}/v1/cloudesire/order-validation`,
    plans: [{ id: 77, items: PREPAID() }, { id: 88, items: { CORE_HOURS: { valueType: "PAY_AS_YOU_GO", presence: "OPTIONAL", ranges: [{ start: 0, end: null }] } } }],
  });
}, 300_000);
afterAll(async () => scene.close());

describe("tenantctl for Cloudesire", { timeout: 400_000 }, () => {
  it("cloudesire doctor: secret set, API reachable, token accepted; a refused token or a missing secret fails with exit 1", async () => {
    const env = { CLOUDESIRE_API_URL: scene.sim.url, CLOUDESIRE_TOKEN: CD_TOKEN, CLOUDESIRE_EVENT_SECRET: CD_SECRET, CLOUDESIRE_DASHBOARD_URL: "https://dashboard.cloud.example", CLOUDESIRE_PRODUCT_IDS: "12", CLOUDESIRE_PAYG_PLANS: "88" };
    const ok = await tenantctl(["cloudesire", "doctor"], env);
    expect(ok.status, ok.stdout).toBe(0);
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

  it("cloudesire doctor checks the Syndicated Product on the marketplace: its URLs, a published plan, each plan's extra resources as the service sells them", async () => {
    const env = { CLOUDESIRE_API_URL: scene.sim.url, CLOUDESIRE_TOKEN: CD_TOKEN, CLOUDESIRE_EVENT_SECRET: CD_SECRET, CLOUDESIRE_DASHBOARD_URL: "https://dashboard.cloud.example", CLOUDESIRE_SERVICE_URL: SERVICE, CLOUDESIRE_PAYG_PLANS: "88" };
    const ok = await tenantctl(["cloudesire", "doctor"], { ...env, CLOUDESIRE_PRODUCT_IDS: "12" });
    expect(ok.stdout).toMatch(/^OK\s+product 12: product 12 \(OpenStack VDC\) is a Syndicated Product notifying this service/m);
    expect(ok.stdout).not.toMatch(/^FAIL/m);
    expect(ok.status).toBe(0);
    // A Service product, notifying elsewhere, its plan unpublished, RAM without an upper bound, disk tagged, no IP addresses, Post-paid cores.
    const items: Record<string, { valueType?: string; ranges: Array<{ start: number; end: number | null; tag?: string }> }> = {
      ...PREPAID({ ram: null }), CPU_CORES: { valueType: "POST_PAID", ranges: [{ start: 1, end: 64 }] }, DISK_GB: { ranges: [{ start: 1, end: 1, tag: "small" }] },
    };
    delete items.IP_ADDRESSES;
    scene.sim.catalog(13, { type: "SERVICE", syndicationEndpoints: ["https://old.example/events"], plans: [{ id: 78, published: false, items }] });
    const wrong = await tenantctl(["cloudesire", "doctor"], { ...env, CLOUDESIRE_PRODUCT_IDS: "13,14" });
    expect(wrong.status).toBe(1);
    for (const line of [
      /^FAIL\s+product 13: .* is a SERVICE product: this service needs a Syndicated Product, and a product's type cannot change/m,
      /^FAIL\s+product 13: .* does not notify https:\/\/tenants\.cloud\.example\/v1\/cloudesire\/events/m,
      /^FAIL\s+product 13: .* has no published plan/m,
      /^FAIL\s+product 13: CLOUDESIRE_PAYG_PLANS names plan 88, which is not a plan of product 13/m,
      /^FAIL\s+product 13: plan 78 .*"CPU_CORES" is POST_PAID, not Pre-paid/m,
      /^WARN\s+product 13: .*order validation URL is not set/m,
      /^FAIL\s+product 13: plan 78 .*"RAM_GB" goes past PLAN_MAX_RAM_GB \(256\): its last range has no Max/m,
      /^FAIL\s+product 13: plan 78 .*"DISK_GB" has tagged ranges/m,
      /^FAIL\s+product 13: plan 78 .*has no extra resource "IP_ADDRESSES"/m,
      /^FAIL\s+product 14: .* has no product 14: the staging and production marketplaces have their own ids/m,
    ]) expect(wrong.stdout, wrong.stdout).toMatch(line);
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
