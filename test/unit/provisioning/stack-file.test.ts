import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { createStackFile, stackFileOf } from "../../../src/provisioning/stack-file.js";

/**
 * The checkpoint the service writes for a new stack against the one the real CLI writes. The fixtures are the
 * files `pulumi stack init sub-1 --secrets-provider passphrase --no-select --non-interactive` (CLI v3.248.0,
 * built by scripts/pulumi-toolchain.sh) left in an empty file:// backend: `.pulumi/meta.yaml` and
 * `.pulumi/stacks/openstack-tenants/sub-1.json`. test/e2e/real-cli.test.ts has the CLI read what we write.
 */
const CLI_INIT = JSON.parse(readFileSync("test/fixtures/pulumi/stack-init-v3.248.0.json", "utf8"));
const CLI_META = readFileSync("test/fixtures/pulumi/meta-v3.248.0.yaml", "utf8");

function backend(meta: string | null = CLI_META): string {
  const dir = mkdtempSync(join(tmpdir(), "stack-file-"));
  if (meta !== null) {
    mkdirSync(join(dir, ".pulumi"));
    writeFileSync(join(dir, ".pulumi", "meta.yaml"), meta);
  }
  return dir;
}

describe("a new stack written into a file backend as `pulumi stack init` writes it", () => {
  it("is the CLI's own checkpoint: same stack, manifest magic, version and secrets provider (with the config's salt)", () => {
    const dir = backend();
    const salt = CLI_INIT.checkpoint.latest.secrets_providers.state.salt;
    const now = new Date(CLI_INIT.checkpoint.latest.manifest.time);
    const outcome = createStackFile({ backendUrl: pathToFileURL(dir).href, project: "openstack-tenants", stack: "sub-1", salt, cliVersion: "3.248.0", now });
    expect(outcome).toBe("created");
    const written = JSON.parse(readFileSync(join(dir, ".pulumi", "stacks", "openstack-tenants", "sub-1.json"), "utf8"));
    // The CLI prints nanoseconds, JavaScript milliseconds: the same instant either way.
    expect(Date.parse(written.checkpoint.latest.manifest.time)).toBe(now.getTime());
    written.checkpoint.latest.manifest.time = CLI_INIT.checkpoint.latest.manifest.time;
    expect(written).toEqual(CLI_INIT);
  });

  it("never replaces a stack that exists (plain or gzipped), and leaves no temporary file", () => {
    const dir = backend();
    const url = pathToFileURL(dir).href;
    const args = { backendUrl: url, project: "openstack-tenants", stack: "sub-2", salt: "v1:abc=:v1:x:y", cliVersion: "v3.248.0" };
    expect(createStackFile(args)).toBe("created");
    const file = join(dir, ".pulumi", "stacks", "openstack-tenants", "sub-2.json");
    writeFileSync(file, "the stack's history");
    expect(createStackFile(args)).toBe("exists");
    expect(readFileSync(file, "utf8")).toBe("the stack's history");
    writeFileSync(`${file.replace("sub-2", "sub-3")}.gz`, "");
    expect(createStackFile({ ...args, stack: "sub-3" })).toBe("exists");
    expect(existsSync(file.replace("sub-2", "sub-3"))).toBe(false);
    expect(readdirSync(join(dir, ".pulumi", "stacks", "openstack-tenants")).sort()).toEqual(["sub-2.json", "sub-3.json.gz"]);
  });

  it("leaves every backend it does not know to `pulumi stack init`: a new one, a legacy one, file://~, another scheme", () => {
    expect(stackFileOf(pathToFileURL(backend(null)).href, "openstack-tenants", "sub-1")).toBeNull();
    expect(stackFileOf(pathToFileURL(backend("version: 0\n")).href, "openstack-tenants", "sub-1")).toBeNull();
    expect(stackFileOf(pathToFileURL(backend("not: yaml: at all")).href, "openstack-tenants", "sub-1")).toBeNull();
    expect(stackFileOf("file://~/state", "openstack-tenants", "sub-1")).toBeNull();
    expect(stackFileOf("s3://bucket/state", "openstack-tenants", "sub-1")).toBeNull();
    const dir = backend();
    expect(stackFileOf(`${pathToFileURL(dir).href}/`, "openstack-tenants", "sub-1")).toBe(join(dir, ".pulumi", "stacks", "openstack-tenants", "sub-1.json"));
  });
});
