import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { SUSPENDED_MARK } from "../../src/openstack/server-power.js";
import { readQuotaSet } from "../../src/openstack/quota-sets.js";
import { CloudGuard } from "../../src/provisioning/tenant-guard.js";
import { event, PREPAID } from "../support/events.js";
import { harnessWith } from "../support/harness.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { finishPowerAction, insertServer } from "../support/nova-cells.js";
import { quotaRows } from "../support/quota-rows.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, testcloud } from "../support/testcloud.js";

/**
 * Suspension on the real Nova of the test cloud. It has no compute host, so a server cannot boot and a
 * stop or start never finishes by itself: servers are rows in the cell database (test/support/nova-cells.ts),
 * the API's answer to `os-stop`/`os-start` is what is checked (it accepts the action and sets the task:
 * powering-off / powering-on), and the compute's part is played by finishPowerAction.
 */
const id = `sp${Date.now().toString(36)}`;
let h: Awaited<ReturnType<typeof harnessWith<KeystoneContractEngine>>>;
let admin: CloudClient;
const Server = z.object({ server: z.object({ status: z.string(), metadata: z.record(z.string(), z.string()), "OS-EXT-STS:task_state": z.string().nullable() }) });
const server = async (uuid: string) => (await admin.request("compute", "GET", `/servers/${uuid}`, Server)).server;

beforeAll(async () => {
  admin = new CloudClient(adminCredentials());
  h = await harnessWith(new KeystoneContractEngine(adminCredentials()), {
    settings: { ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string },
    guard: new CloudGuard(admin, { policy: "purge", pollMs: 200, timeoutMs: 20_000 }),
  });
});
afterAll(async () => h?.close());

describe("suspension stops the tenant's servers, resumption starts exactly those", () => {
  it("running servers are marked and stopped; one the customer had shut down stays down after resumption", async () => {
    await h.send(event(id, "subscription.created"));
    await h.reconciler.idle();
    const outputs = (await h.store.get(id))?.outputs;
    expect(outputs).toBeTruthy();
    const running = await insertServer({ projectId: outputs!.projectId, userId: outputs!.userId, name: "web-1", vcpus: 1, memoryMb: 512, host: "testcloud" });
    const off = await insertServer({ projectId: outputs!.projectId, userId: outputs!.userId, name: "off-1", vcpus: 1, memoryMb: 512, host: "testcloud", vmState: "stopped" });
    expect((await server(off)).status).toBe("SHUTOFF");

    await h.send(event(id, "subscription.suspended"));
    await h.reconciler.idle();
    const suspended = await h.store.get(id);
    expect(suspended?.phase, suspended?.lastError ?? "").toBe("ready");
    const stopping = await server(running);
    expect(stopping.metadata[SUSPENDED_MARK]).toBe("true");
    expect(stopping["OS-EXT-STS:task_state"]).toBe("powering-off"); // Nova accepted os-stop
    expect((await server(off)).metadata[SUSPENDED_MARK]).toBeUndefined();
    await finishPowerAction(running, "stopped");
    expect((await server(running)).status).toBe("SHUTOFF");

    await h.send(event(id, "subscription.resumed"));
    await h.reconciler.idle();
    const resumed = await h.store.get(id);
    expect(resumed?.phase, resumed?.lastError ?? "").toBe("ready");
    const starting = await server(running);
    expect(starting["OS-EXT-STS:task_state"]).toBe("powering-on"); // Nova accepted os-start
    expect(starting.metadata[SUSPENDED_MARK]).toBeUndefined();
    const stillOff = await server(off);
    expect(stillOff.status).toBe("SHUTOFF");
    expect(stillOff["OS-EXT-STS:task_state"]).toBeNull();
  });

  it("a cancellation purges the servers and leaves no quota rows behind in Nova, Cinder or Neutron", async () => {
    const projectId = (await h.store.get(id))?.outputs?.projectId as string;
    expect((await readQuotaSet(admin, projectId, "compute")).cores).toBe(PREPAID.cores);
    expect(await quotaRows(projectId)).toMatchObject({ nova_api: expect.any(Number), cinder: expect.any(Number), neutron: expect.any(Number) });
    expect(Object.values(await quotaRows(projectId)).every((n) => n > 0)).toBe(true);
    await h.send(event(id, "subscription.cancelled"));
    await h.reconciler.idle();
    const cancelled = await h.store.get(id);
    expect(cancelled?.phase, cancelled?.lastError ?? "").toBe("cancelled");
    // Nova refuses to read the quotas of a project Keystone no longer has ("is not a valid project"): the
    // services' own tables say what is left.
    expect(await quotaRows(projectId)).toEqual({ nova_api: 0, cinder: 0, neutron: 0 });
  });
});
