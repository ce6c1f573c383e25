import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tenantSpecOf } from "../../../src/domain/tenant-spec.js";
import { foldEvent } from "../../../src/domain/subscription.js";
import { makeRedactor } from "../../../src/log.js";
import { EngineFailure, type Engine } from "../../../src/provisioning/engine.js";
import { EngineHostClient } from "../../../src/provisioning/engine-host.js";
import { PulumiEngine } from "../../../src/provisioning/pulumi-engine.js";
import { event } from "../../support/events.js";
import { FakeOpenStack } from "../../support/fake-openstack.js";
import { projectDir } from "../../support/project-dir.js";
import { SETTINGS } from "../../support/settings.js";

/**
 * The real PulumiEngine (the Automation API of @pulumi/pulumi 3.248) against a recording stand-in `pulumi`
 * first on PATH (test/support/pulumi-probe/pulumi): a probe of what we pass to the CLI, not an engine.
 * Every local user can read a process's arguments in /proc/<pid>/cmdline, so no secret may be one.
 * Each case runs twice: PulumiEngine in the test's process, and the same engine behind the engine host
 * (engine-host.ts, as the service runs it), so that the IPC path carries the same calls and failures.
 */
const PROBE = resolve("test/support/pulumi-probe");
const PASSWORD = "tenant-pw-Zq8\"x\\y-0123456789";
const PASSPHRASE = "stack-passphrase-0123456789";
// The fake Keystone's admin (test/support/fake-openstack.ts): the engine logs in with it for the provider's token.
const ADMIN_PASSWORD = "fake-admin-password";
const keystone = new FakeOpenStack("project-of-sub-7", { empty: true });
const spec = tenantSpecOf(foldEvent(null, event("7", "subscription.created")).state as never, SETTINGS);

let log: string;
const savedPath = process.env.PATH;
const workDirs: string[] = [];
const backendDirs: string[] = [];
const options = () => ({
  workDir: workDirs[workDirs.push(projectDir()) - 1] as string, backendUrl: `file://${backendDirs[backendDirs.push(mkdtempSync(join(tmpdir(), "probe-backend-"))) - 1]}`, passphrase: PASSPHRASE,
  openstackEnv: { OS_AUTH_URL: keystone.credentials().authUrl, OS_USERNAME: "admin", OS_PASSWORD: ADMIN_PASSWORD, OS_PROJECT_NAME: "admin", OS_USER_DOMAIN_ID: "default", OS_PROJECT_DOMAIN_ID: "default" },
});
const hosts: EngineHostClient[] = [];
const ENGINES: [string, () => Engine][] = [
  ["PulumiEngine in this process", () => new PulumiEngine({ ...options(), redact: makeRedactor([PASSPHRASE, ADMIN_PASSWORD]) })],
  [
    "PulumiEngine behind the engine host",
    () => {
      // The host's environment is this process's at its start: PATH (the probe first) and PROBE_LOG as set below.
      const host = new EngineHostClient({ engine: { ...options(), secrets: [PASSPHRASE, ADMIN_PASSWORD] } });
      hosts.push(host);
      return host;
    },
  ],
];
/** The project directory the engine was made with (each engine gets its own, in making order). */
const workDirOf = (_e: Engine) => workDirs.at(-1) as string;
const calls = () => readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { args: string[]; stdin: string; env: string[] });

beforeAll(async () => {
  await keystone.start();
  process.env.PATH = `${PROBE}:${savedPath}`;
});
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});
afterAll(async () => {
  await keystone.stop();
  process.env.PATH = savedPath;
  delete process.env.PROBE_LOG;
  delete process.env.PROBE_NO_STACKS;
});

describe.each(ENGINES)("what the production engine passes to the pulumi CLI: %s", (_, engine) => {
  it("an update is two CLI starts with no secret in any argument or on stdin; the password is encrypted in the stack config; the engine's error is redacted", async () => {
    log = join(mkdtempSync(join(tmpdir(), "probe-")), "calls.jsonl");
    process.env.PROBE_LOG = log;
    // The stand-in quotes the password from a file: in the environment it would be in the host's too.
    process.env.PROBE_QUOTE_FILE = join(dirname(log), "quote");
    writeFileSync(process.env.PROBE_QUOTE_FILE, PASSWORD);
    const e = engine();
    const failure = await e.up({ stack: "sub-7", spec, password: PASSWORD, message: "evt-1 subscription.created" }).catch((x: unknown) => x);
    delete process.env.PROBE_QUOTE_FILE;
    const seen = calls();
    if (e instanceof EngineHostClient) {
      // The host got the secrets over its IPC channel: neither in its arguments nor in its environment.
      const host = [`/proc/${e.pid}/cmdline`, `/proc/${e.pid}/environ`].map((f) => readFileSync(f, "utf8")).join("\n");
      for (const secret of [PASSWORD, PASSPHRASE, ADMIN_PASSWORD]) expect(host).not.toContain(secret);
    }
    // A new stack: `stack init` (no select, no config round trip), then the update itself (`version` is the SDK's check).
    expect(seen.map((c) => c.args.slice(0, 2).join(" ")).filter((a) => a !== "version")).toEqual(["stack init", expect.stringMatching(/^up /)]);
    for (const c of seen) {
      for (const secret of [PASSWORD, PASSPHRASE, ADMIN_PASSWORD]) expect(`${c.args.join(" ")} ${c.stdin}`).not.toContain(secret);
    }
    // The run that starts the provider gets a Keystone token and no login of its own (provider-auth.ts); the
    // ones that touch no cloud get no OpenStack variable at all.
    const up = seen.find((c) => c.args[0] === "up");
    expect(up?.env).toEqual(expect.arrayContaining(["OS_AUTH_URL", "OS_TOKEN", "OS_ALLOW_REAUTH"]));
    for (const c of seen) expect(c.env.filter((k) => /^OS_(PASSWORD|USERNAME|PROJECT_NAME)$/.test(k))).toEqual([]);
    expect(seen.find((c) => c.args[0] === "stack")?.env.filter((k) => k.startsWith("OS_"))).toEqual([]);
    const config = readFileSync(join(workDirOf(e), "stacks", "Pulumi.sub-7.yaml"), "utf8");
    expect(config).toMatch(/tenant:password:\n\s+secure: v1:/);
    expect(config).not.toContain(PASSWORD);
    // The CLI's error quoted the password: it leaves the engine redacted.
    expect(failure).toBeInstanceOf(EngineFailure);
    expect((failure as Error).message).toContain("provider refused the value [redacted]");
    expect((failure as Error).message).not.toContain(PASSWORD);
  });

  it("in a file backend the CLI already uses (its .pulumi/meta.yaml), a new stack is written by the service: one CLI start, `up`", async () => {
    log = join(mkdtempSync(join(tmpdir(), "probe-")), "calls.jsonl");
    process.env.PROBE_LOG = log;
    const e = engine();
    const backend = backendDirs.at(-1) as string;
    // What the CLI's first command in a backend writes (pkg/backend/diy/backend.go: project mode, version 1).
    mkdirSync(join(backend, ".pulumi"));
    writeFileSync(join(backend, ".pulumi", "meta.yaml"), "version: 1\n");
    await e.up({ stack: "sub-9", spec, password: PASSWORD, message: "evt-1 subscription.created" }).catch(() => undefined);
    expect(calls().map((c) => c.args[0]).filter((a) => a !== "version")).toEqual(["up"]);
    const checkpoint = JSON.parse(readFileSync(join(backend, ".pulumi", "stacks", "openstack-tenants", "sub-9.json"), "utf8"));
    const salt = /encryptionsalt: (\S+)/.exec(readFileSync(join(workDirOf(e), "stacks", "Pulumi.sub-9.yaml"), "utf8"))?.[1];
    expect(checkpoint.checkpoint).toMatchObject({ stack: "organization/openstack-tenants/sub-9", latest: { secrets_providers: { type: "passphrase", state: { salt } } } });
  });

  it("an update of a stack the caller found (it read its outputs) is one CLI start: `up`", async () => {
    log = join(mkdtempSync(join(tmpdir(), "probe-")), "calls.jsonl");
    process.env.PROBE_LOG = log;
    await engine().up({ stack: "sub-7", spec, password: PASSWORD, message: "evt-2 subscription.modified", exists: true }).catch(() => undefined);
    expect(calls().map((c) => c.args[0]).filter((a) => a !== "version")).toEqual(["up"]);
  });

  it("a preview of a stack that does not exist neither creates it nor writes any config", async () => {
    log = join(mkdtempSync(join(tmpdir(), "probe-")), "calls.jsonl");
    process.env.PROBE_LOG = log;
    process.env.PROBE_NO_STACKS = "1";
    try {
      const preview = await engine().preview({ stack: "sub-8", spec });
      expect(preview.changeSummary).toEqual({ create: 6 });
      const seen = calls().map((c) => c.args.slice(0, 2).join(" "));
      expect(seen.filter((a) => a === "stack init" || a.startsWith("config set"))).toEqual([]);
      expect(existsSync(join(workDirs.at(-1) as string, "stacks"))).toBe(false);
    } finally {
      delete process.env.PROBE_NO_STACKS;
    }
  });
});

describe("the pulumi CLI's health", () => {
  it("a CLI that is on PATH but unusable is not reported as missing", async () => {
    const { cliUnusable } = await import("../../../src/provisioning/pulumi-cli.js");
    expect(cliUnusable(new Error("spawn pulumi ENOENT")).message).toMatch(/not found on PATH/);
    const tooOld = cliUnusable(new Error("Minimum version requirement failed. The minimum CLI version requirement is 3.248.0, your current CLI version is 3.100.0."));
    expect(tooOld.message).toMatch(/cannot be used: .*minimum CLI version/);
    expect(tooOld.message).not.toMatch(/not found on PATH/);
  });
});
