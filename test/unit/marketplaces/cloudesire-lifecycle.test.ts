import { afterEach, describe, expect, it } from "vitest";
import type { TenantGuard } from "../../../src/provisioning/tenant-guard.js";
import { cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";

// Scenarios of docs/syndication.md ("Workflow of a Subscription") against the simulator, over real HTTP.
let scene: Awaited<ReturnType<typeof cloudesireScene>> | undefined;
afterEach(async () => {
  await scene?.close();
  scene = undefined;
});

const deployedPatches = (id: number) => scene!.sim.patches.filter((p) => p.subscription === id && p.deploymentStatus === "DEPLOYED");

async function deployTrial(id: number, quantities?: Record<string, number>) {
  const s = scene!;
  s.sim.order(id, { type: "TRIAL", ...(quantities ? { quantities } : {}) });
  await s.sim.notify(id, "CREATED");
  await until(() => deployedPatches(id).length > 0, `DEPLOYED of ${id}`);
  await settled(s, String(id));
}

describe("selling through Cloudesire: the lifecycle of a syndicated subscription", { timeout: 180_000 }, () => {
  it("a trial order is provisioned at once; the customer gets the dashboard, instructions and credentials, then DEPLOYED", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    await deployTrial(4242, { CPU_CORES: 4, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });

    const ups = h.engine.callsFor("sub-4242");
    expect(ups.map((c) => c.op)).toEqual(["up"]);
    expect(ups[0]?.spec?.quotas.compute).toMatchObject({ cores: 4, ram: 8 * 1024 });
    expect(ups[0]?.spec?.quotas.blockStorage.gigabytes).toBe(100);
    expect(ups[0]?.spec?.quotas.network.floatingip).toBe(1);
    expect(sim.endpoints.get(4242)).toEqual([{ endpoint: "https://dashboard.cloud.example", description: "OpenStack dashboard", category: "APP" }]);

    const outputs = await h.engine.outputs("sub-4242");
    const creds = Object.fromEntries((sim.credentials.get(4242) ?? []).map((c) => [c.key, c.value]));
    expect(creds).toMatchObject({ username: "sub-4242", password: outputs?.password, region: "RegionOne", authUrl: "http://127.0.0.1:5000/v3" });
    expect(creds.CredentialsFile).toContain("clouds:");
    expect(creds.CredentialsFile).toContain(outputs?.password);
    const instructions = sim.instructions.get(4242)?.en ?? "";
    expect(instructions).toContain("sub-4242 is ready");
    expect(instructions).not.toContain(outputs?.password);
    // In the marketplace's languages, plain text without links (docs/syndication.md): the APP endpoint is the link.
    expect(Object.keys(sim.instructions.get(4242) ?? {})).toEqual(["en", "it"]);
    expect(sim.instructions.get(4242)?.it).toContain("Il tuo progetto OpenStack sub-4242 è pronto.");
    expect(JSON.stringify(sim.instructions.get(4242))).not.toMatch(/:\/\//);
    expect(sim.metadata.get(4242)).toMatchObject({ openstackProjectId: "project-of-sub-4242", openstackStack: "sub-4242" });

    // DEPLOYED comes after the access, only the optional metadata after it; every call pinned the apiVersion and sent the token.
    const applied = sim.calls.filter((c) => c.applied).map((c) => `${c.method} ${c.path}`);
    expect(applied).toEqual([
      "POST subscription/4242/endpoints", "POST subscription/4242/instructions", "POST subscription/4242/credentials",
      "PATCH subscription/4242", "PATCH subscription/4242", "PUT subscription/4242/metadata",
    ]);
    expect(sim.callsTo("PATCH", /^subscription\/4242$/).map((c) => c.body)).toEqual([{ deploymentStatus: "DEPLOYED" }, { action: "SET_NAME", name: "OpenStack project sub-4242" }]);
    expect(sim.subscriptions.get(4242)?.name).toBe("OpenStack project sub-4242");
    expect(sim.calls.every((c) => c.apiVersion === "20250109" && c.status !== 401)).toBe(true);
    // The password is in no log line and in no outbox row.
    expect(h.logs.join("\n")).not.toContain(outputs?.password);
    const outbox = await h.cloudesire.store.outboxOf("4242");
    expect(JSON.stringify(outbox)).not.toContain(outputs?.password);
    expect(outbox.map((r) => [r.call.kind, r.state])).toEqual([["endpoints", "sent"], ["instructions", "sent"], ["credentials", "sent"], ["status", "sent"], ["name", "sent"], ["metadata", "sent"]]);
  });

  it("a trial is provisioned at once though Cloudesire shows it unpaid", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(5, { type: "TRIAL", paid: false });
    await sim.notify(5, "CREATED");
    await settled(scene, "5");
    expect((await h.cloudesire.store.get("5"))?.lastRead).toMatchObject({ deploymentStatus: "PENDING", paid: false, type: "TRIAL" });
    expect(h.engine.callsFor("sub-5").map((c) => c.op)).toEqual(["up"]);
    expect(sim.patches.filter((p) => p.subscription === 5).map((p) => p.deploymentStatus)).toEqual(["DEPLOYED"]);
  });

  it("a normal order waits for payment, touching no stack, and is provisioned once paid", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(7, { type: "NORMAL" });
    await sim.notify(7, "CREATED");
    await settled(scene, "7");
    expect((await h.cloudesire.store.get("7"))?.lastRead).toMatchObject({ deploymentStatus: "WAITING_PAYMENT", paid: false, verdict: "waiting: waiting for the customer's payment" });
    expect(h.engine.calls).toHaveLength(0);
    expect(await h.store.get("7")).toBeNull();
    expect(sim.patches).toHaveLength(0);

    sim.set(7, { paid: true, deploymentStatus: "PENDING" });
    await sim.notify(7, "MODIFIED");
    await until(() => deployedPatches(7).length === 1, "DEPLOYED after payment");
    await settled(scene, "7");
    expect(h.engine.callsFor("sub-7").map((c) => c.op)).toEqual(["up"]);
  });

  it("more cores are applied at once; a downsize below usage is refused and the customer is told why", async () => {
    let usedCores = 2;
    // The tenant guard as unit tests use it: a cloud whose project uses `usedCores` cores.
    const guard: TenantGuard = {
      beforeUp: async (_p, spec) => (spec.quotas.compute.cores < usedCores ? `downsize refused, the project uses more than the new plan allows: cores ${usedCores} in use > ${spec.quotas.compute.cores}` : null),
      beforeDestroy: async () => null,
      leftoversOf: async () => ({}),
    };
    scene = await cloudesireScene({ guard });
    const { sim, h } = scene;
    await deployTrial(11);

    sim.setQuantities(11, { CPU_CORES: 12, RAM_GB: 24, DISK_GB: 300, IP_ADDRESSES: 2 });
    await sim.notify(11, "MODIFIED");
    await until(() => h.engine.callsFor("sub-11").length === 2, "the upgrade's stack update");
    await settled(scene, "11");
    expect(h.engine.callsFor("sub-11")[1]?.spec?.quotas.compute.cores).toBe(12);
    expect(await h.store.get("11")).toMatchObject({ phase: "ready" });
    // Access is posted once in a subscription's life; DEPLOYED once.
    expect(sim.callsTo("POST", /credentials$/)).toHaveLength(1);
    expect(deployedPatches(11)).toHaveLength(1);

    usedCores = 10;
    sim.setQuantities(11, { CPU_CORES: 4, RAM_GB: 24, DISK_GB: 300, IP_ADDRESSES: 2 });
    await sim.notify(11, "MODIFIED");
    await until(() => (sim.instructions.get(11)?.en ?? "").includes("could not be applied"), "the refusal shown to the customer");
    await settled(scene, "11");
    expect(sim.instructions.get(11)?.en).toContain("cores 10 in use > 4");
    expect(await h.store.get("11")).toMatchObject({ phase: "failed", lastError: expect.stringContaining("downsize refused") });
    // The tenant keeps running as it was: no FAILED, no second stack change.
    expect(sim.patches.filter((p) => p.subscription === 11).map((p) => p.deploymentStatus)).toEqual(["DEPLOYED"]);
    expect(h.engine.callsFor("sub-11").filter((c) => c.op === "up")).toHaveLength(2);

    // The customer frees cores and buys 12 again: applied, and the instructions say so.
    usedCores = 2;
    sim.setQuantities(11, { CPU_CORES: 6, RAM_GB: 24, DISK_GB: 300, IP_ADDRESSES: 2 });
    await sim.notify(11, "MODIFIED");
    await until(async () => (await h.store.get("11"))?.phase === "ready", "the next change applied");
    await until(() => (sim.instructions.get(11)?.en ?? "").startsWith("Your OpenStack project sub-11 is ready"), "instructions restored");
  });

  it("quantities over the operator's limits fail the subscription with a reason the customer reads", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(12, { type: "TRIAL", quantities: { CPU_CORES: 80, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 } });
    await sim.notify(12, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === 12 && p.deploymentStatus === "FAILED"), "FAILED");
    expect(sim.instructions.get(12)?.en).toContain("CPU cores: 80 is more than the 64 this cloud sells per subscription");
    expect(sim.instructions.get(12)?.it).toContain("core CPU: 80 è più dei 64 che questo cloud vende per sottoscrizione");
    expect(h.engine.calls).toHaveLength(0);
    const applied = sim.calls.filter((c) => c.applied).map((c) => `${c.method} ${c.path}`);
    expect(applied).toEqual(["POST subscription/12/instructions", "PATCH subscription/12"]);
  });

  it("a quantity in its plan's last price range (unlimited) is provisioned as the number chosen", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(15, { type: "TRIAL", quantities: { CPU_CORES: { value: 48, unlimited: true, tag: "32+" }, RAM_GB: { value: 256, unlimited: true }, DISK_GB: 100, IP_ADDRESSES: 1 } });
    await sim.notify(15, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === 15), "a status reported for 15");
    expect(sim.patches.filter((p) => p.subscription === 15).map((p) => p.deploymentStatus)).toEqual(["DEPLOYED"]);
    expect(h.engine.callsFor("sub-15")[0]?.spec?.quotas.compute).toMatchObject({ cores: 48, ram: 256 * 1024 });
  });

  it("a missing billing-item identifier fails the subscription, naming it", async () => {
    scene = await cloudesireScene();
    const { sim } = scene;
    sim.order(13, { type: "TRIAL", quantities: { CPU_CORES: 2, RAM_GB: 4, DISK_GB: 50 } });
    await sim.notify(13, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === 13 && p.deploymentStatus === "FAILED"), "FAILED");
    expect(sim.instructions.get(13)?.en).toContain('no "IP_ADDRESSES" extra resource');
  });

  it("a pay-as-you-go plan gets the PAYG ceilings", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"] });
    const { sim, h } = scene;
    sim.order(14, { type: "TRIAL", productVersion: 88, quantities: {} });
    await sim.notify(14, "CREATED");
    await until(() => deployedPatches(14).length === 1, "DEPLOYED");
    expect(h.engine.callsFor("sub-14")[0]?.spec?.quotas.compute.cores).toBe(64);
    expect(h.engine.callsFor("sub-14")[0]?.spec?.tags).toContain("plan:payg");
  });

  it("with CLOUDESIRE_PRODUCT_IDS set, another product's subscription is acknowledged and left alone, even its termination", async () => {
    scene = await cloudesireScene({ settings: { productIds: ["12"] } });
    const { sim, h } = scene;
    sim.order(16, { type: "TRIAL", product: 99 });
    await sim.notify(16, "CREATED");
    await settled(scene, "16");
    sim.set(16, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(16, "MODIFIED");
    await settled(scene, "16");
    expect(sim.deliveries.filter((d) => d.id === "16").map((d) => d.status)).toEqual([204, 204]);
    expect((await h.cloudesire.store.get("16"))?.lastRead).toMatchObject({ verdict: "ignored: product 99 is not sold by this service" });
    expect(sim.calls.filter((c) => c.method !== "GET" || !/^subscription\/16$/.test(c.path))).toEqual([]);
    expect(h.engine.calls).toHaveLength(0);
    // Its own product's subscriptions are sold as before.
    await deployTrial(17);
  });

  it("Cloudesire showing PENDING for a tenant that is ready is told DEPLOYED again", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    await deployTrial(18);
    sim.set(18, { deploymentStatus: "PENDING" }); // our DEPLOYED lost on its side
    await sim.notify(18, "MODIFIED");
    await settled(scene, "18");
    expect(deployedPatches(18)).toHaveLength(2);
    expect(sim.subscriptions.get(18)?.deploymentStatus).toBe("DEPLOYED");
    expect(h.engine.callsFor("sub-18").map((c) => c.op)).toEqual(["up"]);
  });

  it("an order refused as FAILED is provisioned once the customer changes it, though Cloudesire still shows FAILED", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(19, { type: "TRIAL", quantities: { CPU_CORES: 80, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 } });
    await sim.notify(19, "CREATED");
    await until(() => sim.subscriptions.get(19)?.deploymentStatus === "FAILED", "FAILED");
    await settled(scene, "19");
    sim.setQuantities(19, { CPU_CORES: 8, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    await sim.notify(19, "MODIFIED");
    await settled(scene, "19");
    expect(sim.patches.filter((p) => p.subscription === 19).map((p) => p.deploymentStatus)).toEqual(["FAILED", "DEPLOYED"]);
    expect(h.engine.callsFor("sub-19")[0]?.spec?.quotas.compute.cores).toBe(8);
    expect(sim.instructions.get(19)?.en).toContain("sub-19 is ready");
  });

  it("after an operator rotates the password, Cloudesire shows the new one", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    await deployTrial(20);
    const before = (await h.engine.outputs("sub-20"))?.password;
    expect((await h.asOperator("/v1/subscriptions/20/rotate-password", { method: "POST" })).status).toBe(202);
    await until(async () => (await h.engine.outputs("sub-20"))?.password !== before, "the rotation");
    await settled(scene, "20");
    const after = (await h.engine.outputs("sub-20"))?.password;
    expect(sim.credentials.get(20)?.find((c) => c.key === "password")?.value).toBe(after);
    expect(sim.credentials.get(20)?.find((c) => c.key === "CredentialsFile")?.value).toContain(after);
    expect(deployedPatches(20)).toHaveLength(1);
  });

  it("the customer resets the password from the PASSWORD_RESET link Cloudesire shows; Cloudesire then shows the new one", async () => {
    scene = await cloudesireScene({ settings: { serviceUrl: "https://tenants.cloud.example" } });
    const { sim, h, url } = scene;
    await deployTrial(22);
    const reset = (sim.endpoints.get(22) as Array<{ endpoint: string; category: string }>).find((e) => e.category === "PASSWORD_RESET");
    expect(reset?.endpoint).toMatch(/^https:\/\/tenants\.cloud\.example\/v1\/subscriptions\/22\/password-reset\?key=pr_/);
    // The outbox keeps no key: it is added when the call is sent.
    expect(JSON.stringify(await h.cloudesire.store.outboxOf("22"))).not.toContain("pr_");
    const link = new URL(reset?.endpoint ?? "");
    const local = `${url}${link.pathname}`;
    const key = link.searchParams.get("key") ?? "";
    // Opening the link changes nothing; it shows a form.
    const before = (await h.engine.outputs("sub-22"))?.password;
    const page = await fetch(`${local}?key=${key}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<form method="post">');
    const formKey = /name="key" value="([^"]+)"/.exec(html)?.[1] ?? "";
    expect((await fetch(`${local}?key=pr_wrong`)).status).toBe(401);
    // The key opens the reset only, not the credentials.
    expect((await fetch(`${url}/v1/subscriptions/22/credentials`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    const done = await fetch(local, { method: "POST", body: new URLSearchParams({ key: formKey }) });
    expect(done.status).toBe(202);
    await until(async () => (await h.engine.outputs("sub-22"))?.password !== before, "the new password");
    await settled(scene, "22");
    expect(sim.credentials.get(22)?.find((c) => c.key === "password")?.value).toBe((await h.engine.outputs("sub-22"))?.password);
    // The link was used: Cloudesire now shows the next one, and the used one opens nothing.
    const next = (sim.endpoints.get(22) as Array<{ endpoint: string; category: string }>).find((e) => e.category === "PASSWORD_RESET");
    expect(next?.endpoint).not.toBe(reset?.endpoint);
    expect((await fetch(`${local}?key=${key}`)).status).toBe(401);
    expect((await fetch(`${local}?key=${new URL(next?.endpoint ?? "").searchParams.get("key")}`)).status).toBe(200);
  });

  it("STOPPED suspends the tenant; back to DEPLOYED resumes it, without reporting anything again", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    await deployTrial(21);
    sim.set(21, { deploymentStatus: "STOPPED" });
    await sim.notify(21, "MODIFIED");
    await until(() => h.engine.callsFor("sub-21").length === 2, "suspension");
    expect(h.engine.callsFor("sub-21")[1]?.spec?.enabled).toBe(false);
    await settled(scene, "21");
    sim.set(21, { deploymentStatus: "DEPLOYED" });
    await sim.notify(21, "MODIFIED");
    await until(() => h.engine.callsFor("sub-21").length === 3, "resumption");
    expect(h.engine.callsFor("sub-21")[2]?.spec?.enabled).toBe(true);
    await settled(scene, "21");
    expect(deployedPatches(21)).toHaveLength(1);
    expect(sim.callsTo("POST", /credentials$/)).toHaveLength(1);
    expect(await h.store.get("21")).toMatchObject({ phase: "ready" });
  });

  it("UNDEPLOY_SENT tears the tenant down, then UNDEPLOYED; the DELETED that follows changes nothing", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    await deployTrial(31);
    sim.set(31, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(31, "MODIFIED");
    await until(() => sim.patches.some((p) => p.subscription === 31 && p.deploymentStatus === "UNDEPLOYED"), "UNDEPLOYED");
    expect(h.engine.callsFor("sub-31").map((c) => c.op)).toEqual(["up", "destroy"]);
    expect(await h.store.get("31")).toMatchObject({ phase: "cancelled" });
    // Cloudesire confirms with DELETED (and the subscription is gone): nothing more happens.
    sim.remove(31);
    await sim.notify(31, "DELETED");
    await settled(scene, "31");
    expect(h.engine.callsFor("sub-31").map((c) => c.op)).toEqual(["up", "destroy"]);
    expect(sim.patches.filter((p) => p.subscription === 31).map((p) => p.deploymentStatus)).toEqual(["DEPLOYED", "UNDEPLOYED"]);
  });

  it("a DELETED notification alone tears the tenant down (the templates do), and UNDEPLOYED on a deleted subscription is not retried", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    await deployTrial(32);
    sim.remove(32);
    await sim.notify(32, "DELETED");
    await until(() => h.engine.callsFor("sub-32").some((c) => c.op === "destroy"), "teardown");
    await settled(scene, "32");
    const last = (await h.cloudesire.store.outboxOf("32")).at(-1);
    expect(last).toMatchObject({ state: "skipped", call: { kind: "status", deploymentStatus: "UNDEPLOYED" } });
    expect(sim.callsTo("PATCH", /^subscription\/32$/).map((c) => c.status)).toEqual([200, 200, 404]);
  });

  it("a termination of an order never paid is confirmed at once, with no stack touched", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(33, { type: "NORMAL" });
    await sim.notify(33, "CREATED");
    sim.set(33, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(33, "MODIFIED");
    await until(() => sim.patches.some((p) => p.subscription === 33 && p.deploymentStatus === "UNDEPLOYED"), "UNDEPLOYED");
    expect(h.engine.calls).toHaveLength(0);
  });
});
