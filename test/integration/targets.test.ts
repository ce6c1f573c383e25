import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.js";
import { serviceDoctor } from "../../src/server.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { TenantSettings } from "../../src/domain/tenant-spec.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { placementCapacity } from "../../src/openstack/placement.js";
import { TargetHealth } from "../../src/openstack/target-health.js";
import { CloudGuard, TargetGuards } from "../../src/provisioning/tenant-guard.js";
import { event, PREPAID } from "../support/events.js";
import { harnessWith, WEBHOOK_SECRET } from "../support/harness.js";
import { signWebhook } from "../../src/domain/webhook-signature.js";
import { KeystoneContractEngine } from "../support/keystone-contract-engine.js";
import { SETTINGS } from "../support/settings.js";
import { adminCredentials, adminEnv, cliJson, testcloud } from "../support/testcloud.js";

/**
 * Two targets of the test cloud: RegionOne, and RegionTwo (scripts/testcloud.sh region-two: a second Nova,
 * Cinder, Neutron and Placement in Keystone's catalog under RegionTwo). Tenants are applied through the
 * real services with the calls the provider makes (KeystoneContractEngine, each quota set in its
 * resource's region), read back with the real `openstack` CLI and --os-region-name.
 */
const RUN = Date.now().toString(36);
const script = (arg: string) => {
  const r = spawnSync("bash", ["scripts/testcloud.sh", arg], { encoding: "utf8", env: { ...process.env, TESTCLOUD_DIR: testcloud().TESTCLOUD_DIR }, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`testcloud.sh ${arg} failed: ${r.stderr}`);
  return r.stdout.trim().split("\n").pop() ?? "";
};

let h: Awaited<ReturnType<typeof harnessWith<KeystoneContractEngine>>>;
let health: TargetHealth;
const clouds = new Map<string, CloudClient>();
const providers: string[] = [];
let regionTwoStopped = false;

const quotaIn = (region: string, projectId: string) => cliJson<{ cores: number; ram: number; gigabytes: number }>("openstack", ["--os-region-name", region, "quota", "show", projectId], adminEnv());

beforeAll(async () => {
  const r2 = Object.fromEntries(readFileSync(script("region-two"), "utf8").split("\n").filter((l) => l.includes("=")).map((l) => l.split("=") as [string, string]));
  expect(r2.TESTCLOUD_R2_REGION).toBe("RegionTwo");
  clouds.set("one", new CloudClient(adminCredentials()));
  clouds.set("two", new CloudClient({ ...adminCredentials(), regionName: "RegionTwo" }));
  // A hypervisor of RegionTwo, as nova-compute reports it to its region's Placement: 8 vCPUs at an
  // allocation ratio of 2, 16 GB of which 512 MB reserved for the host, 200 GB of disk (placement-api-ref).
  const two = clouds.get("two") as CloudClient;
  const uuid = randomUUID();
  await two.request("placement", "POST", "/resource_providers", z.unknown(), { name: `hv-${RUN}`, uuid });
  providers.push(uuid);
  await two.request("placement", "PUT", `/resource_providers/${uuid}/inventories`, z.unknown(), {
    resource_provider_generation: 0,
    inventories: {
      VCPU: { total: 8, reserved: 0, allocation_ratio: 2.0 },
      MEMORY_MB: { total: 16384, reserved: 512, allocation_ratio: 1.0 },
      DISK_GB: { total: 200, reserved: 0, allocation_ratio: 1.0 },
    },
  });
  const settings: TenantSettings = {
    ...SETTINGS, authUrl: testcloud().OS_AUTH_URL as string, defaultTarget: "one",
    targets: {
      one: { name: "one", label: "Region one", region: "RegionOne", authUrl: testcloud().OS_AUTH_URL as string, memberRole: "member" },
      two: { name: "two", label: "Region two", region: "RegionTwo", authUrl: testcloud().OS_AUTH_URL as string, memberRole: "member" },
    },
  };
  health = new TargetHealth(clouds, { ttlMs: 0 });
  const guards = new Map([...clouds].map(([n, c]) => [n, new CloudGuard(c, { policy: "purge", pollMs: 200, timeoutMs: 60_000 })] as const));
  h = await harnessWith(new KeystoneContractEngine(adminCredentials()), {
    settings,
    guard: new TargetGuards(guards, "one"),
    targets: {
      problem: (t) => health.problem(t),
      capacity: [...clouds].map(([name, c]) => ({ name, selling: {}, placement: () => placementCapacity(c, { backoffMs: 50 }) })),
    },
  });
}, 900_000);

afterAll(async () => {
  await h?.reconciler.stop();
  if (regionTwoStopped) script("region-two");
  // The hypervisor this file made up leaves RegionTwo's Placement as it found it.
  for (const uuid of providers) await clouds.get("two")?.request("placement", "DELETE", `/resource_providers/${uuid}`, z.unknown());
}, 600_000);

describe("two targets of one cloud: RegionOne and RegionTwo", () => {
  it("a purchase in each target lands its quotas only in its region (read back with openstack --os-region-name)", async () => {
    expect((await h.send(event(`t1${RUN}`, "subscription.created", { plan: { ...PREPAID, cores: 3, ramGb: 6, diskGb: 30, target: "two" } }))).status).toBe(202);
    expect((await h.send(event(`t2${RUN}`, "subscription.created", { plan: { ...PREPAID, cores: 2, ramGb: 4, diskGb: 20 } }))).status).toBe(202);
    await h.reconciler.idle();
    const inTwo = await h.store.get(`t1${RUN}`);
    const inOne = await h.store.get(`t2${RUN}`);
    expect(inTwo).toMatchObject({ phase: "ready", outputs: { region: "RegionTwo" } });
    expect(inOne).toMatchObject({ phase: "ready", outputs: { region: "RegionOne" } });
    const p2 = inTwo?.outputs?.projectId as string;
    const p1 = inOne?.outputs?.projectId as string;
    expect(quotaIn("RegionTwo", p2)).toMatchObject({ cores: 3, ram: 6144, gigabytes: 30 });
    expect(quotaIn("RegionOne", p2).cores).not.toBe(3); // RegionOne's Nova never heard of it: its defaults
    expect(quotaIn("RegionOne", p1)).toMatchObject({ cores: 2, ram: 4096, gigabytes: 20 });
    expect(quotaIn("RegionTwo", p1).cores).not.toBe(2);
  }, 900_000);

  it("RegionTwo's capacity comes from its Placement (allocation ratio and reserved applied); an order past it is refused before it is paid", async () => {
    const body = (await (await h.asOperator("/v1/capacity")).json()) as { targets: Array<{ target: string; physical: unknown; sold: unknown; used: unknown; problem: string | null }> };
    const two = body.targets.find((t) => t.target === "two");
    expect(two).toMatchObject({ physical: { VCPU: 16, MEMORY_MB: 15872, DISK_GB: 200 }, sold: { VCPU: 3, MEMORY_MB: 6144, DISK_GB: 30 }, used: { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 }, problem: null });
    // RegionOne's Placement has no hypervisor in this test cloud: its capacity is not enforced, and says why.
    expect(body.targets.find((t) => t.target === "one")?.problem).toMatch(/no resource provider/);
    const verdict = await h.app.request("/v1/order-checks", signed({ plan: { ...PREPAID, cores: 14, ramGb: 8, diskGb: 10, target: "two" } }));
    expect(await verdict.json()).toEqual({ accepted: false, reasons: ["two has 13 vCPUs left to sell, the plan asks for 14 vCPUs"], target: "two" });
  }, 600_000);

  it("the doctor checks each target in its own region: RegionTwo's quota reads go to RegionTwo's services", async () => {
    const dir = mkdtempSync(join(tmpdir(), "targets-doctor-"));
    try {
      writeFileSync(join(dir, "targets.yaml"), "targets:\n  - name: one\n  - name: two\n    region: RegionTwo\n");
      const os = Object.fromEntries(Object.entries(testcloud()).filter(([k]) => k.startsWith("OS_")));
      const config = loadConfig({ ...os, DATA_DIR: join(dir, "data"), TARGETS_FILE: join(dir, "targets.yaml"), WEBHOOK_SECRET: "whsec-targets-doctor-0123456789", LOG_LEVEL: "error" });
      const findings = await serviceDoctor(config, Promise.resolve({ cli: "pulumi (not run here)", problems: [], blocking: [], cliTooOld: null }));
      const two = findings.filter((f) => f.check.startsWith("openstack[two] "));
      expect(two.map((f) => f.check)).toEqual(expect.arrayContaining(["openstack[two] keystone", "openstack[two] quota compute"]));
      expect(two.filter((f) => f.status === "fail")).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("with RegionTwo stopped, its purchase waits with the reason while RegionOne's goes on; it lands once RegionTwo is back", async () => {
    script("region-two-stop");
    regionTwoStopped = true;
    await h.send(event(`t3${RUN}`, "subscription.created", { plan: { ...PREPAID, cores: 1, ramGb: 2, diskGb: 10, target: "two" } }));
    await h.send(event(`t4${RUN}`, "subscription.created", { plan: { ...PREPAID, cores: 1, ramGb: 2, diskGb: 10 } }));
    await h.reconciler.idle();
    expect(await h.store.get(`t4${RUN}`)).toMatchObject({ phase: "ready" });
    const held = await h.store.get(`t3${RUN}`);
    expect(held?.phase).toBe("waiting");
    expect(held?.lastError).toMatch(/^waiting for target two: target two does not answer: cannot reach compute/);

    script("region-two");
    regionTwoStopped = false;
    await h.reconciler.scan();
    await h.reconciler.idle();
    const landed = await h.store.get(`t3${RUN}`);
    expect(landed).toMatchObject({ phase: "ready", lastError: null });
    expect(quotaIn("RegionTwo", landed?.outputs?.projectId as string)).toMatchObject({ cores: 1, ram: 2048 });
  }, 900_000);
});

/** A request signed as the marketplace signs webhooks (the order pre-check takes the same signature). */
function signed(body: unknown): RequestInit {
  const raw = JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  return { method: "POST", headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(WEBHOOK_SECRET, ts, raw) }, body: raw };
}
