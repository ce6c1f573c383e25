import { afterEach, describe, expect, it } from "vitest";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { paygRun } from "../../support/payg-run.js";
import { PRICES } from "../../support/prices.js";

// What Cloudesire really does (its docs, its Java client's DTOs, as the simulator models them) and what it
// broke in round 2 of the review (issue 32): each test names the behaviour a customer or a vendor sees.
let scene: Awaited<ReturnType<typeof cloudesireScene>> | undefined;
afterEach(async () => {
  await scene?.close();
  scene = undefined;
});

const patchesOf = (id: number) => scene!.sim.patches.filter((p) => p.subscription === id).map((p) => p.deploymentStatus);
const USAGE = { cores: 720, ramGb: 1440, diskGb: 72000, floatingIps: 0 };

async function deployTrial(id: number, quantities?: Record<string, number>) {
  const s = scene!;
  s.sim.order(id, { type: "TRIAL", ...(quantities ? { quantities } : {}) });
  await s.sim.notify(id, "CREATED");
  await until(() => patchesOf(id).includes("DEPLOYED"), `DEPLOYED of ${id}`);
  await settled(s, String(id));
}

describe("Cloudesire's real behaviour, round 2", { timeout: 120_000 }, () => {
  it("a month's invoice held back by a rate limit still reaches Cloudesire once, before the cancellation's UNDEPLOYED", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"], billing: { gnocchi: () => constantGnocchi({ "project-of-sub-87": 100_000 }), prices: PRICES } });
    const { sim, h } = scene;
    sim.order(87, { type: "NORMAL", paid: true, deploymentStatus: "PENDING", productVersion: 88, quantities: {} });
    await sim.notify(87, "CREATED");
    await until(() => patchesOf(87).includes("DEPLOYED"), "DEPLOYED of 87");
    await settled(scene, "87");
    // The month's push meets Cloudesire's rate limiter: wait 1.5 s.
    sim.inject("POST", /^subscription\/87\/invoice$/, "rate-limit", 1, 1500);
    const { computation, totals } = paygRun("2026-10", { 87: USAGE });
    await h.billingStore.save(computation, totals);
    await until(() => sim.callsTo("POST", /^subscription\/87\/invoice$/).length === 1, "the rate-limited push");
    // Meanwhile the customer cancels.
    sim.set(87, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(87, "MODIFIED");
    await until(() => patchesOf(87).includes("UNDEPLOYED"), "UNDEPLOYED");
    await settled(scene, "87");
    await until(async () => (await h.cloudesire.store.outboxOf("87")).every((r) => r.state !== "pending"), "every call of 87 done");
    expect(await h.cloudesire.store.deadLetters()).toEqual([]);
    // Every charge once, every one taken while the subscription was active (before UNDEPLOYED).
    const identifiers = sim.invoices.flatMap((i) => (i.lines as Array<{ identifier: string }>).map((l) => l.identifier));
    const month = new Date().toISOString().slice(0, 7);
    expect(identifiers).toEqual(expect.arrayContaining(["cores-2026-10", `cores-${month}`]));
    expect(new Set(identifiers).size).toBe(identifiers.length);
    const applied = sim.calls.filter((c) => c.applied && c.path.startsWith("subscription/87")).map((c) => `${c.method} ${c.path}`);
    expect(applied.lastIndexOf("POST subscription/87/invoice")).toBeLessThan(applied.lastIndexOf("PATCH subscription/87"));
  });

  it("an optional call Cloudesire keeps failing (metadata 5xx) gives up after a few tries and never holds the cancellation's UNDEPLOYED", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.inject("GET", /^subscription\/56\/metadata$/, "5xx", 100_000);
    sim.order(56, { type: "TRIAL" });
    await sim.notify(56, "CREATED");
    await until(() => patchesOf(56).includes("DEPLOYED"), "DEPLOYED of 56");
    sim.set(56, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(56, "MODIFIED");
    await until(() => patchesOf(56).includes("UNDEPLOYED"), "UNDEPLOYED despite the failing metadata", 15_000);
    await until(async () => (await h.cloudesire.store.outboxOf("56")).find((r) => r.call.kind === "metadata")?.state === "skipped", "the metadata given up");
    const metadata = (await h.cloudesire.store.outboxOf("56")).find((r) => r.call.kind === "metadata");
    expect(metadata?.lastError).toMatch(/gave up after \d+ attempts/);
    expect(await h.cloudesire.store.deadLetters()).toEqual([]);
  });

  it("re-issuing the customer's credentials token gives Cloudesire a PASSWORD_RESET link that works; the old one stops", async () => {
    scene = await cloudesireScene({ settings: { serviceUrl: "https://tenants.cloud.example" } });
    const { sim, h, url } = scene;
    await deployTrial(23);
    const resetLink = () => new URL((sim.endpoints.get(23) as Array<{ endpoint: string; category: string }>).find((e) => e.category === "PASSWORD_RESET")?.endpoint ?? "");
    const before = resetLink();
    expect((await h.asOperator("/v1/subscriptions/23/credentials-token", { method: "POST" })).status).toBe(201);
    await until(() => resetLink().href !== before.href, "a new PASSWORD_RESET link on Cloudesire");
    await settled(scene, "23");
    const open = (link: URL) => fetch(`${url}${link.pathname}${link.search}`);
    expect((await open(resetLink())).status).toBe(200);
    expect((await open(before)).status).toBe(401);
    // The APP endpoint is still there (endpoints are set as a whole).
    expect((sim.endpoints.get(23) as Array<{ category: string }>).map((e) => e.category)).toEqual(["APP", "PASSWORD_RESET"]);
  });

  it("the instructions follow a quota change: after an upgrade they state the new quotas", async () => {
    scene = await cloudesireScene();
    const { sim } = scene;
    await deployTrial(24, { CPU_CORES: 4, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    expect(sim.instructions.get(24)?.en).toContain("4 CPU cores");
    sim.setQuantities(24, { CPU_CORES: 12, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    await sim.notify(24, "MODIFIED");
    await until(() => (sim.instructions.get(24)?.en ?? "").includes("12 CPU cores"), "instructions stating 12 cores");
    expect(sim.instructions.get(24)?.it).toContain("12 core CPU");
  });

  it("a changed dashboard or service URL reaches the endpoints of subscriptions provisioned before the change, at the next start", async () => {
    scene = await cloudesireScene({ settings: { serviceUrl: "https://tenants.cloud.example" } });
    const { sim, h } = scene;
    await deployTrial(25);
    const shown = () => (sim.endpoints.get(25) as Array<{ endpoint: string; category: string }> | undefined) ?? [];
    expect(shown().map((e) => e.endpoint.replace(/\?.*/, ""))).toEqual(["https://dashboard.cloud.example", "https://tenants.cloud.example/v1/subscriptions/25/password-reset"]);
    // The operator moves the service, and restarts: a new process on the same database.
    await h.cloudesire.worker?.stop();
    const moved = await cloudesireScene({ sim, replicaOf: h.db, settings: { serviceUrl: "https://tenants.example.net" } });
    try {
      await until(() => /^https:\/\/tenants\.example\.net\/v1\/subscriptions\/25\/password-reset\?key=pr_/.test(shown().find((e) => e.category === "PASSWORD_RESET")?.endpoint ?? ""), "the new reset link on Cloudesire");
    } finally {
      await moved.close();
    }
    // Then the dashboard, and restarts again.
    const again = await cloudesireScene({ sim, replicaOf: h.db, settings: { dashboardUrl: "https://horizon.cloud.example", serviceUrl: "https://tenants.example.net" } });
    try {
      await until(() => shown()[0]?.endpoint === "https://horizon.cloud.example", "the new dashboard on Cloudesire");
      // Nothing else was posted again: the same instructions, the same credentials.
      expect(sim.callsTo("POST", /^subscription\/25\/(instructions|credentials)$/)).toHaveLength(2);
    } finally {
      await again.close();
    }
  });

  it("without CLOUDESIRE_PRODUCT_IDS nothing is ours: another product's subscription is never PATCHed nor given instructions, and is counted", async () => {
    scene = await cloudesireScene({ settings: { productIds: [] } });
    const { sim, h } = scene;
    // A vendor-level endpoint hears another product's subscription, with extra resources of its own.
    sim.order(26, { type: "TRIAL", product: 99, quantities: { SEATS: 5 } });
    await sim.notify(26, "CREATED");
    await settled(scene, "26");
    expect(sim.patches).toEqual([]);
    expect(sim.instructions.get(26)).toBeUndefined();
    expect(h.engine.calls).toEqual([]);
    expect((await h.cloudesire.store.get("26"))?.lastRead?.verdict).toMatch(/^ignored: /);
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(/^tenants_cloudesire_ignored_subscriptions 1$/m);
  });

  it("Cloudesire showing UNDEPLOY_SENT again after our UNDEPLOYED is told UNDEPLOYED again", async () => {
    scene = await cloudesireScene();
    const { sim } = scene;
    await deployTrial(34);
    sim.set(34, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(34, "MODIFIED");
    await until(() => patchesOf(34).includes("UNDEPLOYED"), "UNDEPLOYED");
    await settled(scene, "34");
    sim.set(34, { deploymentStatus: "UNDEPLOY_SENT" }); // our PATCH lost on its side
    await sim.notify(34, "MODIFIED");
    await settled(scene, "34");
    expect(patchesOf(34)).toEqual(["DEPLOYED", "UNDEPLOYED", "UNDEPLOYED"]);
    expect(sim.subscriptions.get(34)?.deploymentStatus).toBe("UNDEPLOYED");
  });

  it("Cloudesire showing PENDING again for an order we refused is told FAILED again", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(35, { type: "TRIAL", quantities: { CPU_CORES: 80, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 } });
    await sim.notify(35, "CREATED");
    await until(() => patchesOf(35).includes("FAILED"), "FAILED");
    await settled(scene, "35");
    sim.set(35, { deploymentStatus: "PENDING" }); // reset on its side, the order unchanged
    await sim.notify(35, "MODIFIED");
    await settled(scene, "35");
    expect(patchesOf(35)).toEqual(["FAILED", "FAILED"]);
    expect(h.engine.calls).toEqual([]);
  });

  it("an upgrade not yet paid (bought: false) is not provisioned; once bought, it is", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    await deployTrial(36, { CPU_CORES: 4, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    sim.setQuantities(36, { CPU_CORES: { value: 32, bought: false }, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    await sim.notify(36, "MODIFIED");
    await settled(scene, "36");
    expect(h.engine.callsFor("sub-36").map((c) => c.spec?.quotas.compute.cores)).toEqual([4]);
    expect(sim.instructions.get(36)?.en).toContain("4 CPU cores");
    sim.setQuantities(36, { CPU_CORES: { value: 32, bought: true }, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    await sim.notify(36, "MODIFIED");
    await settled(scene, "36");
    expect(h.engine.callsFor("sub-36").map((c) => c.spec?.quotas.compute.cores)).toEqual([4, 32]);
  });

  it("a new order whose extra resources are not bought yet waits, touching no stack", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(37, { type: "NORMAL", paid: true, deploymentStatus: "PENDING", quantities: { CPU_CORES: { value: 8, bought: false }, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 } });
    await sim.notify(37, "CREATED");
    await settled(scene, "37");
    expect(h.engine.calls).toEqual([]);
    expect(sim.patches).toEqual([]);
    expect((await h.cloudesire.store.get("37"))?.lastRead?.verdict).toMatch(/^waiting: .*CPU_CORES.*not bought/);
  });

  it("calls back are paced on X-Rate-Limit-Remaining: a provisioning never meets a 429", async () => {
    scene = await cloudesireScene();
    const { sim } = scene;
    // Cloudesire's limiter: 3 calls per 400 ms window, then 429 until the window ends.
    sim.rateLimit(3, 400);
    sim.order(38, { type: "TRIAL" });
    await sim.notify(38, "CREATED");
    await until(() => patchesOf(38).includes("DEPLOYED"), "DEPLOYED of 38");
    await settled(scene, "38");
    expect(sim.calls.filter((c) => c.status === 429).map((c) => `${c.method} ${c.path}`)).toEqual([]);
  });

  it("instructions are posted in the marketplace's configured languages", async () => {
    scene = await cloudesireScene({ settings: { languages: ["en", "it", "de"] } });
    const { sim } = scene;
    await deployTrial(39);
    expect(Object.keys(sim.instructions.get(39) ?? {}).sort()).toEqual(["de", "en", "it"]);
    expect(sim.instructions.get(39)?.de).toContain("sub-39");
  });

  it("a provisioning failure is explained to the customer in their language, without internal URLs, within Cloudesire's 4,096 characters", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    // What the engine prints when Keystone refuses (gophercloud quotes the internal URL), then Pulumi's long diagnostics.
    const detail = `error: 1 error occurred:\n\t* Error creating OpenStack project: Expected HTTP response code [201] when accessing [POST http://10.0.0.5:5000/v3/projects], but got 409 instead\n${"  diagnostics line\n".repeat(400)}`;
    h.engine.failNext(new EngineFailure(detail, false), "sub-40");
    sim.order(40, { type: "TRIAL" });
    await sim.notify(40, "CREATED");
    await until(() => patchesOf(40).includes("FAILED"), "FAILED", 20_000);
    await settled(scene, "40");
    expect(await h.cloudesire.store.deadLetters()).toEqual([]);
    const told = sim.instructions.get(40) ?? {};
    expect(Object.values(told).join("\n")).not.toMatch(/:\/\/|10\.0\.0\.5/);
    expect(told.it).toMatch(/^Non è stato possibile creare il tuo progetto OpenStack/);
    expect(told.it).not.toContain("error occurred");
    expect(Object.values(told).every((t) => t.length <= 4096)).toBe(true);
  });

  it("a metric poll answers from what the period already measured: polls of the same hour query Gnocchi once per meter", async () => {
    const KEY = "cd-metrics-key-0123456789";
    const gnocchi = constantGnocchi({ "project-of-sub-41": 40_000, "project-of-sub-42": 40_000 });
    scene = await cloudesireScene({ paygPlans: ["88"], settings: { paygMode: "metrics", metricsHeader: "X-Vendor-Key", metricsToken: KEY }, billing: { gnocchi: () => gnocchi, prices: PRICES } });
    const { sim, url } = scene;
    const poll = async (id: number, meter: string) => (await (await fetch(`${url}/v1/cloudesire/metrics/${meter}`, { headers: { "CD-Subscription-Id": String(id), "X-Vendor-Key": KEY } })).json()) as { value: number };
    for (const id of [41, 42]) {
      sim.order(id, { type: "NORMAL", paid: true, deploymentStatus: "PENDING", productVersion: 88, quantities: {} });
      await sim.notify(id, "CREATED");
      await until(() => patchesOf(id).includes("DEPLOYED"), `DEPLOYED of ${id}`);
    }
    const before = (gnocchi as unknown as { requests: number }).requests;
    const first = await poll(41, "cores");
    for (let i = 0; i < 5; i++) for (const id of [41, 42]) for (const meter of ["cores", "ramGb"]) await poll(id, meter);
    expect((gnocchi as unknown as { requests: number }).requests - before).toBe(2); // cores and ramGb, once each
    expect((await poll(41, "cores")).value).toBeGreaterThanOrEqual(first.value);
  });
});
