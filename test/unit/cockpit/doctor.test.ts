import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { serviceDoctor } from "../../../src/server.js";
import { harness } from "../../support/harness.js";

describe("the service's doctor (GET /v1/doctor, tenantctl doctor)", () => {
  it("checks the configuration the service runs with: a missing webhook secret, pulumi CLI and admin credentials each fail with what to do", async () => {
    const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "doctor-")) });
    // What PulumiEngine.check answers without a CLI on PATH.
    const noCli = { cli: null, problems: ["the pulumi CLI was not found on PATH: install it for the service's user and retry"], blocking: [], cliTooOld: null };
    const findings = await serviceDoctor(config, Promise.resolve(noCli));
    expect(findings.filter((f) => f.status === "fail").map((f) => f.check)).toEqual(["webhook secret", "pulumi", "openstack credentials"]);
    expect(findings.find((f) => f.check === "pulumi")?.message).toMatch(/not found on PATH/);
    expect(findings.some((f) => f.check.startsWith("cloudesire"))).toBe(false);
  });

  it("names the provider plugin a CLI lacks, as the engine's check found it", async () => {
    const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "doctor-")) });
    const noPlugin = { cli: "pulumi 3.248.0", problems: ["the OpenStack provider plugin (resource openstack v3.15.2) is not installed: run `pulumi plugin install resource openstack v3.15.2`"], blocking: [], cliTooOld: null };
    const pulumi = (await serviceDoctor(config, Promise.resolve(noPlugin))).filter((f) => f.check === "pulumi");
    expect(pulumi).toEqual([{ status: "fail", check: "pulumi", message: noPlugin.problems[0] }]);
    const provider = "this project's build of terraform-provider-openstack v3.4.0 (pulumi-terraform-bridge v3.120.0, 6 resources mapped), answering as v3.15.2";
    const fine = (await serviceDoctor(config, Promise.resolve({ cli: "pulumi 3.248.0", problems: [], blocking: [], cliTooOld: null, provider }))).filter((f) => f.check === "pulumi");
    expect(fine).toEqual([{ status: "ok", check: "pulumi", message: `pulumi 3.248.0; OpenStack provider: ${provider}` }]);
  });

  it("is for operators only, and says ok: false when a check fails", async () => {
    const h = await harness({ doctor: [{ status: "fail", check: "pulumi", message: "the pulumi CLI is not on PATH: stacks cannot be updated" }] });
    expect((await h.app.request("/v1/doctor")).status).toBe(401);
    const res = await h.asOperator("/v1/doctor");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: false, findings: [{ status: "fail", check: "pulumi", message: "the pulumi CLI is not on PATH: stacks cannot be updated" }] });
    await h.close();
  });
});
