import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tenantSpecOf } from "../../../src/domain/tenant-spec.js";
import { foldEvent } from "../../../src/domain/subscription.js";
import { makeRedactor } from "../../../src/log.js";
import { EngineFailure, type Engine } from "../../../src/provisioning/engine.js";
import { EngineHostClient } from "../../../src/provisioning/engine-host.js";
import { PulumiEngine } from "../../../src/provisioning/pulumi-engine.js";
import { event } from "../../support/events.js";
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
const ADMIN_PASSWORD = "admin-pw-0123456789";
const spec = tenantSpecOf(foldEvent(null, event("7", "subscription.created")).state as never, SETTINGS);

let log: string;
const savedPath = process.env.PATH;
const options = () => ({
  workDir: resolve("."), backendUrl: `file://${mkdtempSync(join(tmpdir(), "probe-backend-"))}`, passphrase: PASSPHRASE,
  openstackEnv: { OS_AUTH_URL: "http://127.0.0.1:5000/v3", OS_USERNAME: "admin", OS_PASSWORD: ADMIN_PASSWORD },
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
const calls = () => readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { args: string[]; stdin: string });

beforeAll(() => {
  process.env.PATH = `${PROBE}:${savedPath}`;
});
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});
afterAll(() => {
  process.env.PATH = savedPath;
  delete process.env.PROBE_LOG;
  delete process.env.PROBE_NO_STACKS;
});

describe.each(ENGINES)("what the production engine passes to the pulumi CLI: %s", (_, engine) => {
  it("provisioning puts no secret in any argument: the password goes to `config set --secret` on stdin, and the engine's error is redacted", async () => {
    log = join(mkdtempSync(join(tmpdir(), "probe-")), "calls.jsonl");
    process.env.PROBE_LOG = log;
    const e = engine();
    const failure = await e.up({ stack: "sub-7", spec, password: PASSWORD, message: "evt-1 subscription.created" }).catch((x: unknown) => x);
    const seen = calls();
    if (e instanceof EngineHostClient) {
      // The host got the secrets over its IPC channel: neither in its arguments nor in its environment.
      const host = [`/proc/${e.pid}/cmdline`, `/proc/${e.pid}/environ`].map((f) => readFileSync(f, "utf8")).join("\n");
      for (const secret of [PASSWORD, PASSPHRASE, ADMIN_PASSWORD]) expect(host).not.toContain(secret);
    }
    // It got as far as the update itself.
    expect(seen.map((c) => c.args[0])).toContain("up");
    for (const c of seen) {
      for (const secret of [PASSWORD, PASSPHRASE, ADMIN_PASSWORD]) expect(c.args.join(" ")).not.toContain(secret);
    }
    const set = seen.find((c) => c.args.includes("--secret"));
    expect(set?.args).toEqual(["config", "set", "--secret", "--stack", "sub-7", "--non-interactive", "tenant:password"]);
    expect(set?.stdin).toBe(PASSWORD);
    // The CLI's error quoted the password: it leaves the engine redacted.
    expect(failure).toBeInstanceOf(EngineFailure);
    expect((failure as Error).message).toContain("provider refused the value [redacted]");
    expect((failure as Error).message).not.toContain(PASSWORD);
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
    } finally {
      delete process.env.PROBE_NO_STACKS;
    }
  });
});

describe("the pulumi CLI's health", () => {
  it("a CLI that is on PATH but unusable is not reported as missing", async () => {
    const { cliUnusable } = await import("../../../src/provisioning/pulumi-engine.js");
    expect(cliUnusable(new Error("spawn pulumi ENOENT")).message).toMatch(/not found on PATH/);
    const tooOld = cliUnusable(new Error("Minimum version requirement failed. The minimum CLI version requirement is 3.248.0, your current CLI version is 3.100.0."));
    expect(tooOld.message).toMatch(/cannot be used: .*minimum CLI version/);
    expect(tooOld.message).not.toMatch(/not found on PATH/);
  });
});
