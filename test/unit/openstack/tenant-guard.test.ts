import { afterEach, describe, expect, it } from "vitest";
import { CloudClient } from "../../../src/openstack/cloud-client.js";
import { CloudGuard, type OrphanPolicy } from "../../../src/provisioning/tenant-guard.js";
import { event, PREPAID } from "../../support/events.js";
import { FakeOpenStack } from "../../support/fake-openstack.js";
import { harness } from "../../support/harness.js";

let cloud: FakeOpenStack | undefined;
afterEach(async () => {
  await cloud?.stop();
  cloud = undefined;
});

/** The service with its guard talking to the fake cloud, where the engine double's project lives. */
async function withCloud(policy: OrphanPolicy, opts: { empty?: boolean } = {}) {
  cloud = await new FakeOpenStack("project-of-sub-42", opts).start();
  const client = new CloudClient(cloud.credentials());
  const h = await harness({ maxAttempts: 2, guard: new CloudGuard(client, { policy, pollMs: 5, timeoutMs: 5000 }) });
  await h.send(event("42", "subscription.created", { plan: { ...PREPAID, cores: 16, ramGb: 32, diskGb: 200 } }));
  await h.reconciler.idle();
  expect((await h.store.get("42"))?.phase).toBe("ready");
  return { h, cloud };
}

describe("the tenant guard (against recorded Nova, Cinder and Neutron responses)", () => {
  it("a downsize below what the project uses is refused before the engine runs, saying what is in use", async () => {
    const { h } = await withCloud("purge");
    const upsBefore = h.engine.calls.length;
    await h.send(event("42", "subscription.modified", { plan: { ...PREPAID, cores: 8, ramGb: 16, diskGb: 100 } }));
    await h.reconciler.idle();
    expect(h.engine.calls).toHaveLength(upsBefore); // the engine never ran
    const sub = await h.store.get("42");
    expect(sub?.phase).toBe("failed");
    expect(sub?.lastError).toContain("downsize refused");
    expect(sub?.lastError).toContain("compute cores: 12 in use, the plan allows 8");
    expect(sub?.lastError).toContain("compute ram: 24576 in use, the plan allows 16384");
    expect(sub?.lastError).toContain("blockStorage gigabytes: 150 in use, the plan allows 100");
    const dead = (await (await h.asOperator("/v1/dead-letters")).json()) as { deadLetters: Array<{ error: string }> };
    expect(dead.deadLetters[0]?.error).toContain("downsize refused");
    // A plan that fits what is in use goes through.
    await h.send(event("42", "subscription.modified", { plan: { ...PREPAID, cores: 12, ramGb: 24, diskGb: 150 } }));
    await h.reconciler.idle();
    expect(await h.store.get("42")).toMatchObject({ phase: "ready", lastError: null });
    expect(h.engine.calls.at(-1)?.spec?.quotas.compute.cores).toBe(12);
  });

  it("cancellation purges what Keystone would leave behind, in dependency order, then destroys the stack", async () => {
    const { h, cloud } = await withCloud("purge");
    await h.send(event("42", "subscription.cancelled"));
    await h.reconciler.idle();
    expect((await h.store.get("42"))?.phase).toBe("cancelled");
    expect(cloud.remaining()).toEqual({ servers: 0, floatingips: 0, snapshots: 0, volumes: 0, routers: 0, ports: 0, networks: 0, security_groups: 0 }); // the DHCP port went with its network
    const order = cloud.calls.map((c) => c.replace(/ \{.*$/, "").replace(/\/[0-9a-f-]{36}/g, "/ID"));
    expect(order).toEqual([
      "DELETE /compute/v2.1/servers/ID", "DELETE /compute/v2.1/servers/ID",
      "DELETE /network/v2.0/floatingips/ID",
      "DELETE /volume/v3/admin-project/snapshots/ID",
      "DELETE /volume/v3/admin-project/volumes/ID",
      "PUT /network/v2.0/routers/ID", "PUT /network/v2.0/routers/ID/remove_router_interface", "DELETE /network/v2.0/routers/ID",
      "DELETE /network/v2.0/ports/ID",
      "DELETE /network/v2.0/networks/ID",
      "DELETE /network/v2.0/security-groups/ID", "DELETE /network/v2.0/security-groups/ID",
    ]);
    expect(h.engine.callsFor("sub-42").at(-1)?.op).toBe("destroy");
    expect(h.logs.some((l) => l.includes('"msg":"purge"') && l.includes("deleted server web-1"))).toBe(true);
  });

  it("with ORPHAN_POLICY=hold the cancellation waits, listing what remains; after cleanup an operator retry completes it", async () => {
    const { h, cloud } = await withCloud("hold");
    await h.send(event("42", "subscription.cancelled"));
    await h.reconciler.idle();
    const held = await h.store.get("42");
    expect(held?.phase).toBe("held");
    expect(held?.lastError).toContain("2 servers (web-1, db-1)");
    expect(held?.lastError).toContain("1 volumes (db-data)");
    expect(h.engine.callsFor("sub-42").map((c) => c.op)).toEqual(["up"]); // not destroyed
    expect(cloud.calls).toEqual([]); // nothing deleted
    // The customer's data is dealt with by hand; then the operator retries.
    const client = new CloudClient(cloud.credentials());
    const { purgeProject } = await import("../../../src/openstack/project-resources.js");
    await purgeProject(client, "project-of-sub-42", { pollMs: 5, timeoutMs: 5000 });
    expect((await h.asOperator("/v1/subscriptions/42/retry", { method: "POST" })).status).toBe(202);
    await h.reconciler.idle();
    expect((await h.store.get("42"))?.phase).toBe("cancelled");
  });

  it("a cloud that cannot be reached is a transient failure, retried by the queue, never a downsize verdict", async () => {
    const { h, cloud } = await withCloud("purge", { empty: true });
    await cloud.stop();
    await h.send(event("42", "subscription.modified", { plan: { ...PREPAID, cores: 4 } }));
    await h.reconciler.idle();
    const sub = await h.store.get("42");
    expect(sub?.phase).toBe("failed");
    expect(sub?.lastError).toMatch(/cannot reach/);
    const ops = await h.store.operations("42");
    expect(ops[1]?.error).toMatch(/will retry/); // the first attempt was retried
  });
});
