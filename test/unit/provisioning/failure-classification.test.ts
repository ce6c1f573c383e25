import { describe, expect, it } from "vitest";
import { conciseError, isTransientEngineError } from "../../../src/provisioning/failure-classification.js";
import { ENGINE_ERRORS } from "../../fixtures/engine-errors.js";

const transient = ENGINE_ERRORS.filter((f) => f.transient);
const permanent = ENGINE_ERRORS.filter((f) => !f.transient);

describe("which engine errors are worth retrying (full messages of a failed `pulumi up`, test/fixtures/engine-errors.ts)", () => {
  // The engine classifies what conciseError keeps (pulumi-engine.ts), so both are checked together.
  it.each(transient.map((f) => [f.name, f] as const))("transient: %s", (_, f) => {
    expect(isTransientEngineError(f.message)).toBe(true);
    expect(isTransientEngineError(conciseError(f.message))).toBe(true);
  });

  it.each(permanent.map((f) => [f.name, f] as const))("permanent: %s", (_, f) => {
    expect(isTransientEngineError(f.message)).toBe(false);
    expect(isTransientEngineError(conciseError(f.message))).toBe(false);
  });

  it.each(["read ECONNRESET", "503 Service Unavailable", "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE"])("short messages keep their verdict: %s", (m) => {
    expect(isTransientEngineError(m)).toBe(!m.startsWith("error: passphrase"));
  });
});

describe("what an operator is shown of an engine error", () => {
  it.each(ENGINE_ERRORS.map((f) => [f.name, f] as const))("keeps the provider's meaningful line: %s", (_, f) => {
    const shown = conciseError(f.message);
    expect(shown).toContain(f.meaningful);
    expect(shown).not.toContain("Command failed with exit code"); // the command line is not the cause
  });

  it("shows a failed resource's diagnostic once, under the resource, with the body Keystone sent and without Pulumi's wrappers", () => {
    const f = ENGINE_ERRORS.find((x) => x.name.startsWith("Keystone 409: a project"));
    const shown = conciseError(f?.message ?? "");
    expect(shown.split("\n")).toEqual([
      "openstack:identity:Project (project):",
      expect.stringMatching(/^\* Error creating openstack_identity_project_v3: Expected HTTP response code \[201\] .* but got 409 instead$/),
      expect.stringMatching(/^\{"error":\{"code":409,"message":"Conflict occurred attempting to store project/),
    ]);
  });

  it("keeps a program's own failure reported on the stack", () => {
    const out = [
      "Diagnostics:",
      "  pulumi:pulumi:Stack (openstack-tenants-sub-42):",
      "    error: Running program '/srv/openstack-tenants/src/program/main.ts' failed with an unhandled exception:",
      "    Error: tenant:spec is not valid JSON",
      "",
      "Resources:",
      "    1 unchanged",
    ].join("\n");
    expect(conciseError(`code: -2\n stdout: \n stderr: Command failed with exit code 255: pulumi up\n${out}\n`)).toBe(
      "error: Running program '/srv/openstack-tenants/src/program/main.ts' failed with an unhandled exception:\nError: tenant:spec is not valid JSON",
    );
  });

  it("without diagnostics, keeps the error lines of a long CLI output, bounded", () => {
    const long = ["Updating (sub-42)", ...Array.from({ length: 200 }, (_, i) => `  + resource ${i}`), "error: update failed", "  error: boom"].join("\n");
    expect(conciseError(long)).toBe("error: update failed\n  error: boom");
    expect(conciseError("x".repeat(5000)).length).toBeLessThanOrEqual(2001);
  });
});
