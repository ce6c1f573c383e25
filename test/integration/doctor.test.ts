import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readAdminCredentials } from "../../src/openstack/credentials.js";
import { doctor } from "../../src/openstack/doctor.js";
import { testcloud } from "../support/testcloud.js";

const byCheck = (fs: Awaited<ReturnType<typeof doctor>>, check: string) => fs.find((f) => f.check === check);

describe("tenantctl doctor against the real Keystone", () => {
  it("with the admin's OS_* credentials: authenticated, member role found, every catalog service present", async () => {
    const findings = await doctor(readAdminCredentials(testcloud()), "member");
    expect(byCheck(findings, "keystone")).toMatchObject({ status: "ok", message: expect.stringContaining("as admin") });
    expect(byCheck(findings, "member role")?.status).toBe("ok");
    for (const type of ["identity", "compute", "block-storage", "network", "metric"]) expect(byCheck(findings, `catalog ${type}`)?.status).toBe("ok");
    expect(findings.filter((f) => f.status !== "ok")).toEqual([]);
  });

  it("reads a quota set from each of Nova, Cinder and Neutron, showing RAM in MB", async () => {
    const findings = await doctor(readAdminCredentials(testcloud()), "member");
    // The admin project's quotas are the services' defaults (Nova: 20 cores, 51200 MB; Cinder: 1000 GB; Neutron: 50 floating IPs).
    expect(byCheck(findings, "quota compute")).toMatchObject({ status: "ok", message: expect.stringContaining("cores 20, ram 51200 MB") });
    expect(byCheck(findings, "quota blockStorage")).toMatchObject({ status: "ok", message: expect.stringContaining("gigabytes 1000") });
    expect(byCheck(findings, "quota network")).toMatchObject({ status: "ok", message: expect.stringContaining("floatingip 50") });
  });

  it("a quota service that fails is a failed finding naming the service, the others still checked", async () => {
    const env = testcloud();
    const nova = new URL(env.TESTCLOUD_NOVA_URL as string).origin;
    // Only Nova's answers are replaced (by a 403, as a policy that forbids quota reads would answer).
    const denyNova: typeof fetch = async (input, init) => (String(input).startsWith(nova) ? new Response('{"forbidden":{"code":403,"message":"Policy doesn\'t allow os_compute_api:os-quota-sets:show"}}', { status: 403 }) : fetch(input, init));
    const findings = await doctor(readAdminCredentials(env), "member", denyNova);
    expect(byCheck(findings, "quota compute")).toMatchObject({ status: "fail", message: expect.stringMatching(/cannot read the compute quota set: compute answered 403/) });
    expect(byCheck(findings, "quota network")?.status).toBe("ok");
  });

  it("a wrong password is one clear line, without the password", async () => {
    const findings = await doctor(readAdminCredentials({ ...testcloud(), OS_PASSWORD: "definitely-wrong-pw" }), "member");
    const k = byCheck(findings, "keystone");
    expect(k).toMatchObject({ status: "fail", message: expect.stringContaining("refused the admin credentials") });
    expect(JSON.stringify(findings)).not.toContain("definitely-wrong-pw");
  });

  it("an unknown member role is reported with what to set", async () => {
    const findings = await doctor(readAdminCredentials(testcloud()), "no-such-role");
    expect(byCheck(findings, "member role")).toMatchObject({ status: "fail", message: expect.stringContaining("TENANT_MEMBER_ROLE") });
  });

  it("an unreachable auth URL is reported, never thrown", async () => {
    const findings = await doctor(readAdminCredentials({ ...testcloud(), OS_AUTH_URL: "http://127.0.0.1:9/v3" }), "member");
    expect(byCheck(findings, "keystone")).toMatchObject({ status: "fail", message: expect.stringContaining("cannot reach Keystone") });
  });

  it("OS_CLOUD with a clouds.yaml works like the openstack CLI; a missing cloud is named", async () => {
    const file = join(testcloud().TESTCLOUD_DIR as string, "clouds.yaml");
    const findings = await doctor(readAdminCredentials({ OS_CLOUD: "testcloud", OS_CLIENT_CONFIG_FILE: file }), "member");
    expect(byCheck(findings, "credentials")?.message).toContain("clouds.yaml cloud 'testcloud'");
    expect(byCheck(findings, "keystone")?.status).toBe("ok");
    const missing = readAdminCredentials({ OS_CLOUD: "elsewhere", OS_CLIENT_CONFIG_FILE: file });
    expect(missing).toEqual({ ok: false, problem: expect.stringContaining("cloud 'elsewhere' is not in") });
    const broken = join(mkdtempSync(join(tmpdir(), "clouds-")), "clouds.yaml");
    writeFileSync(broken, "clouds: [not, a, map]\n");
    expect(readAdminCredentials({ OS_CLOUD: "x", OS_CLIENT_CONFIG_FILE: broken })).toEqual({ ok: false, problem: expect.stringContaining("is not a valid clouds.yaml") });
  });
});
