import { mkdtempSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { SUSPENDED_MARK } from "../../src/openstack/server-power.js";
import { Credentials, login, quotaShow, serviceOfThisFile } from "../support/e2e-service.js";
import { event, PREPAID } from "../support/events.js";
import { insertServer } from "../support/nova-cells.js";
import { quotaRows } from "../support/quota-rows.js";
import { adminCredentials, adminEnv, cli, cliJson } from "../support/testcloud.js";

/**
 * A customer's whole life on the real engine: a signed purchase becomes a project, a user, the member role
 * and three quota sets through `pulumi up` on the provider built from terraform-provider-openstack, read
 * back by the real `openstack` CLI as the cloud's operator and as the customer; a resize, a downsize the
 * tenant guard refuses below what the customer really uses, a suspension and a cancellation.
 */
const run = Date.now().toString(36);
const svc = serviceOfThisFile();

const Server = z.object({ server: z.object({ metadata: z.record(z.string(), z.string()), "OS-EXT-STS:task_state": z.string().nullable() }) });
const admin = new CloudClient(adminCredentials());

async function credentials(id: string, token: string, format = "json"): Promise<Response> {
  return svc.fetchAs(token, `/v1/subscriptions/${id}/credentials${format === "json" ? "" : `?format=${format}`}`);
}

describe("the engine the service runs", () => {
  it("/healthz names the pulumi CLI and the provider build in use", async () => {
    const health = await svc.get<{ engine: string; provider: string; missing: string[] }>("/healthz");
    expect(health.engine).toBe("pulumi 3.248.0");
    expect(health.provider).toMatch(/^this project's build of terraform-provider-openstack v3\.4\.0 \(pulumi-terraform-bridge v3\.120\.0, 6 resources mapped\), answering as v3\.15\.2$/);
    expect(health.missing).toEqual([]);
  });
});

describe("a prepaid tenant on the real engine", () => {
  const id = `e2el${run}`;
  let token = "";
  let projectId = "";
  let userId = "";
  const servers: string[] = [];

  it("a purchase of an odd plan is a project, a user with the member role and quota sets equal to the plan; the customer's clouds.yaml works", async () => {
    const res = await svc.send(event(id, "subscription.created", { plan: { model: "prepaid", cores: 3, ramGb: 5, diskGb: 37, floatingIps: 0 } }));
    expect(res.status).toBe(202);
    token = ((await res.json()) as { credentialsToken: string }).credentialsToken;
    const sub = await svc.settle(id);
    projectId = sub.outputs?.projectId as string;
    userId = sub.outputs?.userId as string;

    const project = cliJson<{ name: string; enabled: boolean; tags: string[] }>("openstack", ["project", "show", projectId], adminEnv());
    expect(project).toMatchObject({ name: `sub-${id}`, enabled: true });
    const roles = cliJson<Array<{ Role: string; User: string; Project: string }>>("openstack", ["role", "assignment", "list", "--project", projectId, "--names"], adminEnv());
    expect(roles.map((r) => [r.Role, r.User.split("@")[0]])).toEqual([["member", `sub-${id}`]]);
    // RAM in MB; 0 IP addresses is 0 (the provider's create drops Neutron's zeros: the service corrects it).
    expect(quotaShow(projectId)).toMatchObject({ cores: 3, ram: 5120, gigabytes: 37, "floating-ips": 0 });

    const clouds = await (await credentials(id, token, "clouds.yaml")).text();
    const dir = mkdtempSync(`${svc.root}/customer-`);
    writeFileSync(`${dir}/clouds.yaml`, clouds, { mode: 0o600 });
    const customer = { PATH: process.env.PATH ?? "", HOME: dir, OS_CLIENT_CONFIG_FILE: `${dir}/clouds.yaml` };
    const issued = cliJson<{ project_id: string }>("openstack", ["--os-cloud", `sub-${id}`, "token", "issue"], customer);
    expect(issued.project_id).toBe(projectId);
  });

  it("a resize up is a stack update: the quotas follow", async () => {
    await svc.send(event(id, "subscription.modified", { plan: { ...PREPAID, cores: 6, ramGb: 12, diskGb: 80, floatingIps: 2 } }));
    await svc.settle(id);
    expect(quotaShow(projectId)).toMatchObject({ cores: 6, ram: 12_288, gigabytes: 80, "floating-ips": 2 });
  });

  it("a downsize below what the customer's servers use is refused naming the use; one above it goes through", async () => {
    // Two servers of 2 cores / 2 GB, as Nova counts them (rows of its cell database: nothing boots here).
    for (const n of [1, 2]) servers.push(await insertServer({ projectId, userId, name: `vm${n}`, vcpus: 2, memoryMb: 2048, host: "compute-1" }));
    await svc.send(event(id, "subscription.modified", { plan: { ...PREPAID, cores: 2, ramGb: 12, diskGb: 80, floatingIps: 2 } }));
    const refused = await waitFor(async () => {
      const sub = await svc.subscription(id);
      return sub.phase === "failed" ? sub : null;
    });
    expect(refused.phase).toBe("failed");
    expect(refused.lastError).toContain("downsize refused");
    expect(refused.lastError).toContain("compute cores: 4 in use, the plan allows 2");
    expect(quotaShow(projectId)).toMatchObject({ cores: 6 });

    await svc.send(event(id, "subscription.modified", { plan: { ...PREPAID, cores: 4, ramGb: 8, diskGb: 80, floatingIps: 2 } }));
    await svc.settle(id);
    expect(quotaShow(projectId)).toMatchObject({ cores: 4, ram: 8192 });
  });

  it("a suspension locks the customer out and stops their servers; resumption lets them back in", async () => {
    const c = Credentials.parse(await (await credentials(id, token)).json());
    expect(await login(c)).toBe(201);
    const plan = { ...PREPAID, cores: 4, ramGb: 8, diskGb: 80, floatingIps: 2 };
    await svc.send(event(id, "subscription.suspended", { plan }));
    // A suspension is applied like any update: phase ready, status suspended.
    expect(await svc.settle(id)).toMatchObject({ status: "suspended" });
    expect(await login(c)).toBe(401);
    // Nova accepted os-stop for each, marked first (task_state powering-off: no compute host here to finish it).
    // Read over REST: `openstack server list` also wants an image service, which the test cloud has not.
    for (const uuid of servers) {
      const { server } = Server.parse(await admin.request("compute", "GET", `/servers/${uuid}`, z.unknown()));
      expect(server.metadata[SUSPENDED_MARK]).toBe("true");
      expect(server["OS-EXT-STS:task_state"]).toBe("powering-off");
    }
    await svc.send(event(id, "subscription.resumed", { plan }));
    await svc.settle(id);
    expect(await login(c)).toBe(201);
    expect(quotaShow(projectId)).toMatchObject({ cores: 4, ram: 8192 });
  });

  it("a cancellation leaves nothing in Keystone or the quota tables; the credentials stop working", async () => {
    const c = Credentials.parse(await (await credentials(id, token)).json());
    await svc.send(event(id, "subscription.cancelled"));
    await svc.settle(id, "cancelled");
    expect(await login(c)).toBe(401);
    expect(cli("openstack", ["project", "show", projectId], adminEnv()).status).not.toBe(0);
    expect(cli("openstack", ["user", "show", userId], adminEnv()).status).not.toBe(0);
    // Nova refuses to read the quotas of a project Keystone no longer has: the services' own tables say.
    expect(await quotaRows(projectId)).toEqual({ nova_api: 0, cinder: 0, neutron: 0 });
  });
});

describe("a pay-as-you-go tenant on the real engine", () => {
  it("is ready with the plan ceilings as its quotas", async () => {
    const id = `e2ep${run}`;
    await svc.send(event(id, "subscription.created", { plan: { model: "payg" } }));
    const sub = await svc.settle(id);
    expect(quotaShow(sub.outputs?.projectId as string)).toMatchObject({ cores: 64, ram: 256 * 1024, gigabytes: 2000, "floating-ips": 16 });
    await svc.send(event(id, "subscription.cancelled"));
    await svc.settle(id, "cancelled");
  });
});

async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 500));
  }
}
