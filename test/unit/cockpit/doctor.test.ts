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
    const findings = await serviceDoctor(config, Promise.resolve(null));
    expect(findings.filter((f) => f.status === "fail").map((f) => f.check)).toEqual(["webhook secret", "pulumi", "openstack credentials"]);
    expect(findings.find((f) => f.check === "pulumi")?.message).toMatch(/not on PATH/);
    expect(findings.some((f) => f.check.startsWith("cloudesire"))).toBe(false);
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
