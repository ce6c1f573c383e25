import { execFile, fork } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { foldEvent } from "../../../src/domain/subscription.js";
import { tenantSpecOf } from "../../../src/domain/tenant-spec.js";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { EngineHostClient } from "../../../src/provisioning/engine-host.js";
import { event } from "../../support/events.js";
import { projectDir } from "../../support/project-dir.js";
import { SETTINGS } from "../../support/settings.js";

/**
 * The engine host: the real PulumiEngine (Automation API) in a child process, the service talking to it
 * over IPC. The `pulumi` on PATH is a stand-in (test/support/pulumi-stream/pulumi, or the probe), so the
 * SDK's real code runs in the host and only the CLI is pretend.
 */
const STREAM = resolve("test/support/pulumi-stream");
const PROBE = resolve("test/support/pulumi-probe");
const spec = tenantSpecOf(foldEvent(null, event("9", "subscription.created")).state as never, SETTINGS);

const open: EngineHostClient[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});
function client(env: Record<string, string>, more: { idleMs?: number } = {}): EngineHostClient {
  const c = new EngineHostClient({
    engine: { workDir: projectDir(), backendUrl: `file://${mkdtempSync(join(tmpdir(), "host-backend-"))}`, passphrase: "host-passphrase-0123", openstackEnv: {}, secrets: [] },
    env: { ...process.env, PATH: `${STREAM}:${process.env.PATH}`, ...env },
    ...more,
  });
  open.push(c);
  return c;
}

async function until(ok: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

describe("the engine host", () => {
  it("`tenantctl serve` never loads @pulumi/*: its engine host does, answers the health check, and ends with the service", async () => {
    const dir = mkdtempSync(join(tmpdir(), "host-service-"));
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "test/support/engine-host-service.ts"], {
      env: {
        // HOME: the probe's log lands there (the service passes its CLI no PROBE_LOG: not the CLI's business).
        PATH: `${PROBE}:${process.env.PATH}`, HOME: dir,
        DATA_DIR: join(dir, "data"), HOST: "127.0.0.1", WEBHOOK_SECRET: "host-webhook-secret-0123456789", OPERATOR_TOKEN: "host-operator-token-0123456789", LOG_LEVEL: "error",
        CUSTOMER_TOKEN_KEY: "host-customer-token-key-0123456789abcdef", DATABASE_URL_UNUSED: "postgres://u:secret@db/x",
      },
      timeout: 120_000,
    });
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { engine: string; pulumiModules: string[]; hosts: number[]; hostsAfterClose: number[] };
    expect(report.pulumiModules).toEqual([]);
    // Only the SDK's PulumiCommand.get() says this (from the stand-in's `pulumi version`): the host ran it.
    expect(report.engine).toBe("pulumi 3.248.0");
    expect(report.hosts).toHaveLength(1);
    expect(report.hostsAfterClose).toEqual([]);
    // The CLI ran (its version, its plugins) with what it needs and none of the service's own secrets.
    const calls = readFileSync(join(dir, "pulumi-probe.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { args: string[]; env: string[] });
    expect(calls.map((c) => c.args[0])).toEqual(expect.arrayContaining(["version", "plugin"]));
    for (const c of calls) {
      expect(c.env).toContain("PATH");
      expect(c.env.filter((k) => /WEBHOOK|OPERATOR|CUSTOMER_TOKEN|DATABASE|DATA_DIR/.test(k))).toEqual([]);
    }
    expect(calls.find((c) => c.args[0] === "plugin")?.env).toContain("PULUMI_CONFIG_PASSPHRASE");
  }, 150_000);

  it("an update's output lines reach onOutput in the order the CLI printed them, all before the result", async () => {
    const seen: string[] = [];
    const host = client({ STREAM_LINES: "200" });
    const result = await host.up({ stack: "sub-9", spec, password: "pw-0123456789", message: "evt-1", onOutput: (l) => seen.push(l) });
    // The SDK hands onOutput chunks as the CLI wrote them: join and split back into lines.
    const lines = seen.join("").split("\n").filter((l) => l !== "");
    expect(lines).toEqual(Array.from({ length: 200 }, (_, i) => `step ${i + 1} of 200`));
    expect(result).toMatchObject({ resourceChanges: { create: 6 } });
  });

  it("an update says which quota sets it wrote, as the provider read them back (its events), and none it left alone", async () => {
    const written = await client({}).up({ stack: "sub-9", spec, password: "pw-0123456789", message: "evt-1" });
    // The recorded outputs (test/fixtures/pulumi/quota-outputs-tf-openstack-v3.4.0.json), without the provider's own keys.
    expect(written.quotaSets).toEqual({
      compute: {
        cores: 2, ram: 4096, instances: 2, floatingIps: 1, fixedIps: -1, keyPairs: 100, metadataItems: 128, injectedFiles: 5,
        injectedFileContentBytes: 10240, injectedFilePathBytes: 255, securityGroups: 10, securityGroupRules: 100, serverGroups: 10, serverGroupMembers: 10,
      },
      blockStorage: { gigabytes: 50, volumes: 10, snapshots: 10, backups: 10, backupGigabytes: 50, perVolumeGigabytes: -1, groups: 10 },
      network: { floatingip: 1, network: 10, subnet: 10, port: 50, router: 10, securityGroup: 10, securityGroupRule: 100, rbacPolicy: 10, subnetpool: -1 },
    });
    const unchanged = await client({ STREAM_QUOTA_OP: "same" }).up({ stack: "sub-9", spec, password: "pw-0123456789", message: "evt-2" });
    expect(unchanged.quotaSets).toEqual({});
  });

  it("the host dying under an update fails it as transient; the next call gets a fresh host", async () => {
    const hang = join(mkdtempSync(join(tmpdir(), "host-hang-")), "pulumi.pid");
    const host = client({ STREAM_HANG_FILE: hang });
    const update = host.up({ stack: "sub-9", spec, password: "pw-0123456789", message: "evt-2" }).catch((e: unknown) => e);
    await until(() => existsSync(hang), "the stand-in's `pulumi up` to be running");
    const first = host.pid!;
    const pulumiPid = Number(readFileSync(hang, "utf8"));
    try {
      process.kill(first, "SIGKILL");
      const failure = await update;
      expect(failure).toBeInstanceOf(EngineFailure);
      expect((failure as EngineFailure).transient).toBe(true);
      expect((failure as EngineFailure).message).toMatch(/engine host process ended by SIGKILL/);
      // Whether the `pulumi` it started outlives it is not ours to decide (as after a kill -9 of the whole
      // service): the reconciler's lock recovery waits for a live one and cancels a dead one's lock.
      expect((await host.check()).cli).toBe("pulumi 3.248.0");
      expect(host.pid).not.toBe(first);
    } finally {
      if (alive(pulumiPid)) process.kill(pulumiPid, "SIGKILL");
    }
  });

  it("an idle host ends after idleMs and the next call starts another", async () => {
    const host = client({}, { idleMs: 200 });
    expect((await host.check()).cli).toBe("pulumi 3.248.0");
    const first = host.pid!;
    await until(() => !alive(first), "the idle host to end");
    expect(host.pid).toBeUndefined();
    expect(await host.history("sub-9")).toEqual([
      expect.objectContaining({ version: 1, kind: "update", result: "succeeded", resourceChanges: { create: 6 } }),
    ]);
    expect(host.pid).not.toBe(first);
  });

  it("a call after close() fails without starting a host", async () => {
    const host = client({});
    await host.close();
    await expect(host.history("sub-9")).rejects.toThrow(/closed/);
    expect(host.pid).toBeUndefined();
  });
});

describe("a message the engine host cannot read", () => {
  it("ends the host with code 2 and one stderr line naming what it could not read (fields, never values)", async () => {
    const child = fork(resolve("src/provisioning/engine-host-child.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "json" });
    onTestFinished(() => void child.kill("SIGKILL"));
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    await new Promise<void>((r) => child.once("message", () => r())); // ready
    child.send({ kind: "call", id: 1, call: { method: "up", req: { stack: "sub-9", password: "never-logged-0123" } } });
    expect(await exited).toBe(2);
    expect(stderr).toMatch(/^engine host: refused a message it cannot read \(.+\): the service and its host disagree on the protocol\n$/);
    expect(stderr).not.toContain("never-logged-0123");
  }, 60_000);
});
