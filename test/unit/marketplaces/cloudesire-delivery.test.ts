import { afterEach, describe, expect, it } from "vitest";
import { signNotification } from "../../../src/marketplaces/cloudesire/signature.js";
import { CD_SECRET, cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";
import { SETTINGS } from "../../support/settings.js";

// Cloudesire down, slow or repetitive: nothing lost, nothing doubled, DEPLOYED after the access.
let scene: Awaited<ReturnType<typeof cloudesireScene>> | undefined;
afterEach(async () => {
  await scene?.close();
  scene = undefined;
});

const ACCESS = /^subscription\/\d+\/(endpoints|instructions|credentials)$/;

describe("Cloudesire failing, slow, repeating itself", { timeout: 240_000 }, () => {
  it("5xx and timeouts during the read and during every report-back call delay the provisioning, never lose or double it", async () => {
    scene = await cloudesireScene({ timeoutMs: 700 });
    const { sim, h } = scene;
    // The read: the subscription 5xx twice and times out once; the buyer 5xx once (each call retried).
    sim.inject("GET", /^subscription\/51$/, "5xx", 2);
    sim.inject("GET", /^subscription\/51$/, "timeout-before", 1);
    sim.inject("GET", /^user\/\d+$/, "5xx", 1);
    // Report-back: every call fails first, as a 5xx or a timeout (some after Cloudesire applied them), or a 429.
    sim.inject("POST", /endpoints$/, "5xx", 2);
    sim.inject("POST", /instructions$/, "timeout-after", 1);
    sim.inject("POST", /credentials$/, "5xx", 1);
    sim.inject("POST", /credentials$/, "timeout-before", 1);
    sim.inject("GET", /metadata$/, "timeout-before", 1);
    sim.inject("PUT", /metadata$/, "429", 1);
    sim.inject("PATCH", /^subscription\/51$/, "5xx", 1);
    sim.inject("PATCH", /^subscription\/51$/, "timeout-after", 1);
    sim.order(51, { type: "TRIAL" });
    await sim.notify(51, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === 51), "DEPLOYED despite the faults", 120_000);
    await settled(scene, "51");

    // One tenant, one stack update.
    expect(h.engine.callsFor("sub-51").map((c) => c.op)).toEqual(["up"]);
    // What the customer sees: one dashboard link, one set of credentials (the engine's), DEPLOYED.
    const outputs = await h.engine.outputs("sub-51");
    expect(sim.endpoints.get(51)).toHaveLength(1);
    expect(sim.credentials.get(51)?.find((c) => c.key === "password")?.value).toBe(outputs?.password);
    expect(sim.subscriptions.get(51)?.deploymentStatus).toBe("DEPLOYED");
    // Credentials took effect once; every retried call set the same value again (set semantics), nothing appended.
    expect(sim.callsTo("POST", /credentials$/).filter((c) => c.applied)).toHaveLength(1);
    const instructionBodies = sim.callsTo("POST", /instructions$/).filter((c) => c.applied).map((c) => JSON.stringify(c.body));
    expect(new Set(instructionBodies).size).toBe(1);
    // DEPLOYED after the access: no access call took effect after the first DEPLOYED did; the optional metadata follows it.
    const applied = sim.calls.filter((c) => c.applied);
    const firstDeployed = applied.findIndex((c) => c.method === "PATCH");
    expect(applied.slice(firstDeployed).every((c) => !ACCESS.test(c.path))).toBe(true);
    expect(applied.slice(0, firstDeployed).map((c) => c.path)).toEqual(expect.arrayContaining(["subscription/51/endpoints", "subscription/51/credentials"]));
    expect(applied.slice(firstDeployed).map((c) => c.path)).toContain("subscription/51/metadata");
    // The retries are visible to operators (attempts, last error), and all done.
    const outbox = await h.cloudesire.store.outboxOf("51");
    expect(outbox.every((r) => r.state === "sent")).toBe(true);
    expect(outbox.find((r) => r.call.kind === "endpoints")).toMatchObject({ attempts: 3, lastError: expect.stringContaining("503") });
    expect(sim.calls.filter((c) => /^subscription\/51$/.test(c.path) && c.method === "GET").length).toBeGreaterThanOrEqual(4);
  });

  it("the optional metadata call refused (it is not in the vendor docs) never holds back DEPLOYED nor what follows", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.inject("PUT", /metadata$/, "400", 1);
    sim.order(53, { type: "TRIAL" });
    await sim.notify(53, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === 53 && p.deploymentStatus === "DEPLOYED"), "DEPLOYED", 20_000);
    await settled(scene, "53");
    expect(await h.cloudesire.store.deadLetters()).toEqual([]);
    expect((await h.cloudesire.store.outboxOf("53")).find((r) => r.call.kind === "metadata")).toMatchObject({ state: "skipped", lastError: expect.stringContaining("optional call refused") });
    // A later termination still goes out.
    sim.set(53, { deploymentStatus: "UNDEPLOY_SENT" });
    await sim.notify(53, "MODIFIED");
    await until(() => sim.patches.some((p) => p.subscription === 53 && p.deploymentStatus === "UNDEPLOYED"), "UNDEPLOYED", 20_000);
  });

  it("without CLOUDESIRE_DASHBOARD_URL the required APP endpoint is the tenant's identity URL; the customers' guide is a DOCUMENTATION endpoint", async () => {
    scene = await cloudesireScene({ settings: { dashboardUrl: undefined, documentationUrl: "https://docs.cloud.example/tenants" }, tenant: { ...SETTINGS, authUrl: "https://keystone.cloud.example:5000/v3" } });
    const { sim } = scene;
    sim.order(54, { type: "TRIAL" });
    await sim.notify(54, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === 54), "a status for 54", 20_000);
    expect(sim.endpoints.get(54)).toEqual([
      { endpoint: "https://keystone.cloud.example:5000/v3", description: "OpenStack identity (Keystone): log in with your credentials", category: "APP" },
      { endpoint: "https://docs.cloud.example/tenants", description: "How to use your OpenStack project", category: "DOCUMENTATION" },
    ]);
  });

  it("a call Cloudesire refuses (4xx) is a dead letter, stops what follows it, and an operator can resend it", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(52, { type: "TRIAL" });
    // Cloudesire refuses the credentials (as it would a malformed body): DEPLOYED must not follow.
    sim.inject("POST", /credentials$/, "400", 1);
    await sim.notify(52, "CREATED");
    await until(async () => (await h.cloudesire.store.deadLetters()).length === 1, "a dead letter");
    const [dead] = await h.cloudesire.store.deadLetters();
    expect(dead).toMatchObject({ state: "dead", lastError: expect.stringContaining("400"), call: { kind: "credentials" } });
    expect(dead?.lastError).toContain("credential key invalid"); // Cloudesire's errorHolders, surfaced
    expect(sim.callsTo("PATCH", /./)).toHaveLength(0);
    // Listed for operators, then resent.
    const listed = (await (await h.asOperator("/v1/cloudesire/dead-letters")).json()) as { deadLetters: Array<{ id: number; kind: string }> };
    expect(listed.deadLetters.map((d) => d.kind)).toEqual(["credentials"]);
    const res = await h.asOperator(`/v1/cloudesire/outbox/${listed.deadLetters[0]?.id}/resolve`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "resend" }) });
    expect(res.status).toBe(200);
    await until(() => sim.patches.some((p) => p.subscription === 52 && p.deploymentStatus === "DEPLOYED"), "DEPLOYED after the resend");
  });

  it("operators see the outbox in metrics (waiting, dead, held, oldest age) and why Cloudesire cannot be read", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    const gauge = async (name: string, state?: string) => {
      const text = await (await h.app.request("/metrics")).text();
      const line = text.split("\n").find((l) => l.startsWith(state ? `${name}{state="${state}"}` : `${name} `));
      return Number(line?.split(" ").at(-1));
    };
    sim.inject("GET", /^subscription\/55$/, "5xx", 1000);
    sim.order(55, { type: "TRIAL" });
    await sim.notify(55, "CREATED");
    await until(() => h.cloudesire.worker?.readProblem() != null, "the read failing");
    expect(h.cloudesire.worker?.readProblem()).toMatch(/^Cloudesire cannot be read since \S+: Cloudesire answered 503 to GET subscription\/55/);
    sim.clearFaults(); // Cloudesire is back
    sim.inject("POST", /credentials$/, "400", 1);
    await h.cloudesire.store.requestSync("55");
    h.cloudesire.kick();
    await until(async () => (await h.cloudesire.store.deadLetters()).length === 1, "a dead letter");
    expect(h.cloudesire.worker?.readProblem()).toBeNull();
    expect(await gauge("tenants_cloudesire_outbox_calls", "dead")).toBe(1);
    expect(await gauge("tenants_cloudesire_outbox_calls", "waiting")).toBe(3); // status, name and metadata, behind the dead call
    expect(await gauge("tenants_cloudesire_outbox_oldest_waiting_seconds")).toBeGreaterThanOrEqual(0);
  });

  it("duplicate, reordered and repeated notifications converge on what Cloudesire says now, once", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.order(61, { type: "TRIAL" });
    // The id as a number (the client and templates) and as a string (the docs); CREATED arriving after MODIFIED.
    await Promise.all([sim.notify(61, "MODIFIED", { idAsNumber: true }), sim.notify(61, "CREATED"), sim.notify(61, "CREATED")]);
    await until(() => sim.patches.length > 0, "DEPLOYED");
    await settled(scene, "61");
    sim.setQuantities(61, { CPU_CORES: 6, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    sim.setQuantities(61, { CPU_CORES: 10, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    await Promise.all([sim.notify(61, "MODIFIED"), sim.notify(61, "MODIFIED"), sim.notify(61, "MODIFIED")]);
    await settled(scene, "61");
    const ups = h.engine.callsFor("sub-61");
    expect(ups.at(-1)?.spec?.quotas.compute.cores).toBe(10);
    // Never an update for a state Cloudesire no longer holds, and the same state never applied twice.
    expect(ups.map((c) => c.spec?.quotas.compute.cores)).toEqual([4, 10]);
    expect(sim.callsTo("POST", /credentials$/)).toHaveLength(1);
    expect(sim.patches).toHaveLength(1);
    // Every notification was stored (identical ones, sent within the same millisecond, counted on one row) and acknowledged with a 204.
    expect(sim.deliveries.every((d) => d.status === 204)).toBe(true);
    expect((await h.cloudesire.store.notifications()).reduce((n, r) => n + 1 + r.repeats, 0)).toBe(6);
  });

  it("a notification whose optional fields are null (no metadata, no event id) is acknowledged and acted on", async () => {
    scene = await cloudesireScene();
    const { sim } = scene;
    sim.order(62, { type: "TRIAL" });
    await sim.notify(62, "CREATED", { metadata: null, eventId: null, maxAttempts: 3 });
    expect(sim.deliveries.map((d) => d.status)).toEqual([204]);
    await until(() => sim.patches.some((p) => p.subscription === 62 && p.deploymentStatus === "DEPLOYED"), "DEPLOYED");
  });

  it("other entities and subscriptions Cloudesire does not know are acknowledged and change nothing", async () => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    await sim.notify(9001, "CREATED", { entity: "Invoice" });
    await sim.notify(9002, "MODIFIED", { entity: "User" });
    await sim.notify(777, "CREATED"); // Cloudesire answers 404 for it
    await settled(scene, "777");
    expect(sim.deliveries.map((d) => d.status)).toEqual([204, 204, 204]);
    expect(sim.calls.map((c) => `${c.method} ${c.path}`)).toEqual(["GET subscription/777"]);
    expect((await h.cloudesire.store.get("777"))?.lastRead).toMatchObject({ deploymentStatus: "NOT_FOUND", verdict: expect.stringContaining("404") });
    expect(await h.cloudesire.store.get("9001")).toBeNull();
    expect(h.engine.calls).toHaveLength(0);
    expect((await h.cloudesire.store.notifications()).map((n) => n.ignored)).toEqual([null, "entity User is not handled", "entity Invoice is not handled"]);
  });

  it("a bad or missing signature is 401 and nothing is stored; Cloudesire keeps retrying until the secret matches", async () => {
    scene = await cloudesireScene();
    const { sim, h, url } = scene;
    const body = JSON.stringify({ entity: "Subscription", id: "70", type: "CREATED" });
    const post = (headers: Record<string, string>, raw = body) => fetch(`${url}/v1/cloudesire/events`, { method: "POST", headers: { "content-type": "application/json; charset=utf-8", ...headers }, body: raw });
    expect((await post({})).status).toBe(401);
    expect((await post({ "CMW-Event-Signature": signNotification("another-secret-0123456789", body) })).status).toBe(401);
    expect((await post({ "CMW-Event-Signature": "sha1=00" })).status).toBe(401);
    // Signed over other bytes (a re-serialised body): refused.
    expect((await post({ "CMW-Event-Signature": signNotification(CD_SECRET, body) }, body.replace("70", "71"))).status).toBe(401);
    sim.order(70, { type: "TRIAL" });
    await sim.notify(70, "CREATED", { secret: "wrong-secret-0123456789", maxAttempts: 3 });
    expect(sim.deliveries.map((d) => d.status)).toEqual([401, 401, 401]);
    expect(await h.cloudesire.store.notifications()).toHaveLength(0);
    expect(await h.cloudesire.store.get("70")).toBeNull();
    // Cloudesire's own signature (uppercase hex is accepted too), for the record.
    expect((await post({ "CMW-Event-Signature": signNotification(CD_SECRET, body).toUpperCase().replace("SHA1", "sha1") })).status).toBe(204);
  });

  it("order validation refuses what this cloud would refuse, in words the customer reads in the order's language; terminations always pass", async () => {
    scene = await cloudesireScene({ paygPlans: ["88"] });
    const { url } = scene;
    const validate = (order: unknown) => fetch(`${url}/v1/cloudesire/order-validation`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) });
    const ok = await validate({ productVersionId: 77, billingItems: { CPU_CORES: 8, RAM_GB: 16, DISK_GB: 200, IP_ADDRESSES: 2 }, orderType: "NORMAL" });
    expect(ok.status).toBe(204);
    const refused = await validate({ productVersionId: 77, billingItems: { CPU_CORES: 80, RAM_GB: 16, DISK_GB: 5000, IP_ADDRESSES: 2 }, orderType: "SYNDICATED_UPGRADE", subscriptionId: 5 });
    expect(refused.status).toBe(200);
    expect(await refused.json()).toEqual({ errors: [
      { message: "CPU cores: 80 is more than the 64 this cloud sells per subscription" },
      { message: "GB of disk: 5000 is more than the 2000 this cloud sells per subscription" },
    ] });
    // In the order's language.
    const italian = await validate({ productVersionId: 77, billingItems: { CPU_CORES: 80, RAM_GB: 16, DISK_GB: 200, IP_ADDRESSES: 2 }, orderType: "NORMAL", language: "it" });
    expect(await italian.json()).toEqual({ errors: [{ message: "core CPU: 80 è più dei 64 che questo cloud vende per sottoscrizione" }] });
    expect((await validate({ productVersionId: 77, billingItems: { CPU_CORES: 80 }, orderType: "TERMINATION" })).status).toBe(204);
    expect((await validate({ productVersionId: 88, billingItems: {}, orderType: "NORMAL" })).status).toBe(204);
    expect((await validate({ billingItems: "many" })).status).toBe(422);
  });
});
