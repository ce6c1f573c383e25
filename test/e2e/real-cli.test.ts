import { execFile, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { foldEvent } from "../../src/domain/subscription.js";
import { tenantSpecOf } from "../../src/domain/tenant-spec.js";
import { EngineFailure } from "../../src/provisioning/engine.js";
import { EngineHostClient } from "../../src/provisioning/engine-host.js";
import { PassphraseKeyring, writeStackConfig } from "../../src/provisioning/stack-config.js";
import { isOrphaned } from "../../src/provisioning/stack-lock.js";
import { projectDir } from "../support/project-dir.js";
import { event } from "../support/events.js";
import { lockDir, readLocks } from "../support/pulumi-locks.js";
import { SETTINGS } from "../support/settings.js";

/**
 * The engine path against the real `pulumi` CLI v3.248.0, built from the Go module proxy by
 * scripts/pulumi-toolchain.sh (the test setup). No double here: the lock files, the refusal message, the
 * plugin list and the stack history are the CLI's own. The programs here run inline
 * (PulumiEngineOptions.inlineProgram) and declare no OpenStack resource (test/support/slow-program.ts), and the
 * CLI is seen alone on PATH (the provider the toolchain built beside it is left out: what the check says of a
 * machine without it is tested here); test/e2e/tenant-*.test.ts run the tenant program on the real provider.
 */
const toolchain = inject("toolchain");
const root = mkdtempSync(join(tmpdir(), "real-cli-"));
const workDir = join(root, "work");
const backendDir = join(root, "backend");
const pulumiHome = join(root, "pulumi-home");
const release = join(root, "release");
// The CLI alone: the toolchain's bin directory also holds the provider plugin, which these tests install by hand.
const cliOnly = join(root, "cli-only");
const PATH = `${cliOnly}:${process.env.PATH}`;
const hostEnv = { PATH, HOME: root, PULUMI_HOME: pulumiHome, PULUMI_SKIP_UPDATE_CHECK: "true", SLOW_PROGRAM_RELEASE: release };
const SLOW = pathToFileURL(resolve("test/support/slow-program.ts")).href;
const specOf = (stack: string) => tenantSpecOf(foldEvent(null, event(stack.replace(/^sub-/, ""), "subscription.created")).state as never, SETTINGS);

const hosts: EngineHostClient[] = [];
function engineHost(inlineProgram: string | null = SLOW): EngineHostClient {
  const h = new EngineHostClient({
    engine: { workDir, backendUrl: pathToFileURL(backendDir).href, passphrase: "e2e-passphrase-0123", openstackEnv: {}, secrets: [], inlineProgram },
    env: hostEnv,
  });
  hosts.push(h);
  return h;
}
/** The real CLI, as an operator runs it from the work tree (the backend and passphrase in the environment). */
const pulumi = (args: string[], cwd = workDir) =>
  promisify(execFile)(`${toolchain.bin}/pulumi`, args, {
    cwd,
    env: { ...hostEnv, PULUMI_BACKEND_URL: pathToFileURL(backendDir).href, PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase-0123" },
  });

async function until<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
const commOf = (pid: number) => readFileSync(`/proc/${pid}/comm`, "utf8").trim();
const locks = (stack: string) => readLocks(backendDir, stack);
/** Whether the stack's checkpoint in the file backend (.pulumi/stacks/<project>/<stack>.json) holds its root resource. */
const rootSaved = (stack: string) => {
  const stacks = join(backendDir, ".pulumi", "stacks");
  return existsSync(stacks) && readdirSync(stacks).some((project) => {
    const file = join(stacks, project, `${stack}.json`);
    return existsSync(file) && readFileSync(file, "utf8").includes(`::pulumi:pulumi:Stack::`);
  });
};

beforeAll(() => {
  if (!toolchain.bin) throw new Error(`the pulumi CLI could not be built: ${toolchain.error}`);
  console.log(`real CLI: ${toolchain.bin}/pulumi; not available here: ${toolchain.missing.join(" | ") || "nothing"}`);
  mkdirSync(cliOnly, { recursive: true });
  // A link, not a symlink: the CLI also looks for plugins beside its own executable (symlinks resolved).
  try {
    linkSync(`${toolchain.bin}/pulumi`, join(cliOnly, "pulumi"));
  } catch {
    copyFileSync(`${toolchain.bin}/pulumi`, join(cliOnly, "pulumi"));
    chmodSync(join(cliOnly, "pulumi"), 0o755);
  }
  mkdirSync(workDir, { recursive: true });
  mkdirSync(backendDir, { recursive: true });
  // The project as Pulumi.yaml names it (the lock directory is per project).
  writeFileSync(join(workDir, "Pulumi.yaml"), "name: openstack-tenants\nruntime: nodejs\n");
});
afterAll(async () => {
  for (const h of hosts) await h.close();
  rmSync(root, { recursive: true, force: true });
});

describe("the real pulumi CLI", () => {
  it("a stack config file the service writes is the CLI's own: `stack init` keeps its salt and `config get` decrypts the password; a secret the CLI sets, the service reads", async () => {
    const dir = projectDir();
    const file = join(dir, "stacks", "Pulumi.sub-cfg.yaml");
    const keyring = new PassphraseKeyring("e2e-passphrase-0123");
    expect(await writeStackConfig(file, keyring, { "tenant:spec": "{\"a\":1}" }, { "tenant:password": "pw-é\"'x-0123" })).toBe(true);
    const salt = (parseYaml(readFileSync(file, "utf8")) as { encryptionsalt: string }).encryptionsalt;
    await pulumi(["stack", "init", "sub-cfg", "--secrets-provider", "passphrase", "--no-select", "--non-interactive"], dir);
    expect((parseYaml(readFileSync(file, "utf8")) as { encryptionsalt: string }).encryptionsalt).toBe(salt);
    expect((await pulumi(["config", "get", "tenant:password", "--stack", "sub-cfg"], dir)).stdout.trim()).toBe("pw-é\"'x-0123");
    expect((await pulumi(["config", "get", "tenant:spec", "--stack", "sub-cfg"], dir)).stdout.trim()).toBe("{\"a\":1}");
    // Nothing changed: the file is not written again (an update that changes nothing leaves it alone).
    expect(await writeStackConfig(file, keyring, { "tenant:spec": "{\"a\":1}" }, { "tenant:password": "pw-é\"'x-0123" })).toBe(false);
    // The other way: a secret the CLI encrypted (a test's value on its command line).
    await pulumi(["config", "set", "--secret", "other", "v-2", "--stack", "sub-cfg"], dir);
    const doc = parseYaml(readFileSync(file, "utf8")) as { encryptionsalt: string; config: Record<string, { secure: string }> };
    // A key without a namespace is the project's (`openstack-tenants:other`).
    expect((await keyring.forState(doc.encryptionsalt)).decrypt(doc.config["openstack-tenants:other"]?.secure ?? "")).toBe("v-2");
    // Another passphrase's keyring is refused, naming the cause.
    await expect(new PassphraseKeyring("another-passphrase").forState(doc.encryptionsalt)).rejects.toThrow(/another passphrase/);
  });


  it("a new stack the service writes into the backend (no `stack init`) is the CLI's own: listed, updated, its history and secrets read by the CLI", async () => {
    const stack = "sub-written";
    // The CLI's first command in a backend makes it a project-mode one (.pulumi/meta.yaml): what the service writes into.
    await pulumi(["stack", "ls", "--json"]);
    expect(readFileSync(join(backendDir, ".pulumi", "meta.yaml"), "utf8")).toMatch(/^version: 1$/m);
    writeFileSync(`${release}-${stack}`, "");
    const result = await engineHost().up({ stack, spec: specOf(stack), password: "e2e-password-written-0123", message: "evt-1 subscription.created" });
    expect(result.resourceChanges).toEqual({ create: 1 });
    const listed = JSON.parse((await pulumi(["stack", "ls", "--json"])).stdout) as Array<{ name: string; resourceCount?: number }>;
    expect(listed.find((s) => s.name === stack)).toMatchObject({ resourceCount: 1 });
    await expect(pulumi(["stack", "init", stack, "--secrets-provider", "passphrase", "--no-select", "--non-interactive"])).rejects.toThrow(/already exists/);
    const history = JSON.parse((await pulumi(["stack", "history", "--stack", stack, "--json"])).stdout) as Array<{ message: string; result: string }>;
    expect(history.map((h) => [h.message, h.result])).toEqual([["evt-1 subscription.created", "succeeded"]]);
    // The state's secrets provider is the config file's (one salt): the CLI decrypts both with the passphrase.
    const exported = JSON.parse((await pulumi(["stack", "export", "--stack", stack])).stdout) as { deployment: { secrets_providers: { state: { salt: string } } } };
    const config = parseYaml(readFileSync(join(workDir, `Pulumi.${stack}.yaml`), "utf8")) as { encryptionsalt: string };
    expect(exported.deployment.secrets_providers.state.salt).toBe(config.encryptionsalt);
    expect((await pulumi(["config", "get", "tenant:password", "--stack", stack])).stdout.trim()).toBe("e2e-password-written-0123");
    const outputs = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack])).stdout) as { password?: string };
    expect(outputs.password).toBe("e2e-password-written-0123");
  });

  it("passes the version check, and the check names the missing provider plugin until it is installed", async () => {
    const host = engineHost(null);
    const before = await host.check();
    expect(before.cli).toBe("pulumi 3.248.0");
    expect(before.cliTooOld).toBeNull();
    expect(before.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^the OpenStack provider plugin \(resource openstack v3\.15\.2\) is not installed: run `pulumi plugin install resource openstack v3\.15\.2`/)]));
    // The real CLI's `plugin ls --json` answered, so the absence is proven: purchases wait for it (readiness.ts).
    expect(before.blocking).toEqual(expect.arrayContaining([expect.stringMatching(/^the OpenStack provider plugin \(resource openstack v3\.15\.2\) is not installed/)]));
    if (toolchain.missing.some((m) => m.startsWith("pulumi-language-nodejs"))) {
      expect(before.problems).toEqual(expect.arrayContaining([expect.stringMatching(/pulumi-language-nodejs is not beside the pulumi CLI.*PULUMI_PROGRAM=inline/)]));
    }

    // The operator installs the plugin from a file, as the README says for a machine without internet
    // (the real CLI copies it into PULUMI_HOME/plugins and lists it in `pulumi plugin ls --json`).
    const plugin = join(root, "pulumi-resource-openstack");
    // A stand-in answering `-version` as tfbridge.Main does (pkg/tfbridge/main.go: the version, one line).
    writeFileSync(plugin, "#!/bin/sh\n[ \"$1\" = -version ] && echo 3.15.2 && exit 0\nexit 1\n");
    chmodSync(plugin, 0o755);
    await pulumi(["plugin", "install", "resource", "openstack", "v3.15.2", "--file", plugin]);
    const fresh = engineHost(SLOW); // inline: no language host needed either
    const after = await fresh.check();
    expect(after).toEqual({ cli: "pulumi 3.248.0", problems: [], blocking: [], cliTooOld: null, provider: "the official provider v3.15.2" });
  });

  it("an older CLI is refused when the service starts, with one line", async () => {
    const old = join(root, "old-cli");
    mkdirSync(old, { recursive: true });
    writeFileSync(join(old, "pulumi"), "#!/bin/sh\n[ \"$1\" = version ] && echo v3.38.0 && exit 0\nexit 1\n");
    chmodSync(join(old, "pulumi"), 0o755);
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "serve"], {
      env: { PATH: `${old}:${process.env.PATH}`, HOME: root, DATA_DIR: join(root, "old-cli-data"), PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "error" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toEqual([
      "tenantctl: the pulumi CLI on PATH is v3.38.0; the service needs v3.39.0 or newer (for refresh --clear-pending-creates): upgrade it",
    ]);
  });

  it("an orphaned lock is broken alone: a live update's lock taken since stays, and its update ends well", async () => {
    const stack = "sub-locks";
    const host = engineHost();
    // A real `pulumi up` holds the stack's lock while the program waits; then it dies (kill -9).
    const first = host.up({ stack, spec: specOf(stack), password: "e2e-password-0123456789", message: "first" }).catch((e: unknown) => e);
    const [held] = await until("the first update's lock", () => (locks(stack).length === 1 ? locks(stack) : null));
    expect(commOf(held!.pid)).toBe("pulumi");
    expect(held!.hostname).toBe(hostname());
    // The program registers the stack's root resource before it waits, and the engine saves it: killed only
    // once it is saved, whatever the machine's speed (killed before, the operator's update below created it).
    await until("the first update's root resource saved", () => rootSaved(stack));
    process.kill(held!.pid, "SIGKILL");
    expect(await first).toBeInstanceOf(Error);

    // The next update is refused with lock.go's message, which names the dead process's lock.
    const refused = await host.up({ stack, spec: specOf(stack), password: "e2e-password-0123456789", message: "second" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EngineFailure);
    const failure = refused as EngineFailure;
    expect(failure.transient).toBe(true);
    expect(failure.locks).toEqual([
      { url: expect.stringMatching(new RegExp(`^${pathToFileURL(held!.file).href}(?:\\?no_tmp_dir=true)?$`)), username: held!.username, hostname: hostname(), pid: held!.pid, timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    ]);
    expect(failure.locks.every((l) => isOrphaned(l))).toBe(true);

    // Meanwhile an operator cancels it by hand and runs his own update (a live lock of a live `pulumi`).
    await pulumi(["cancel", "--yes", "--stack", stack]);
    const operators = host.up({ stack, spec: specOf(stack), password: "e2e-password-0123456789", message: "an operator's update" });
    const [live] = await until("the operator's lock", () => (locks(stack).length === 1 ? locks(stack) : null));
    expect(live!.file).not.toBe(held!.file);

    // The service now breaks what its refusal named: the dead lock only (`pulumi cancel` would take the live one too).
    await host.breakLocks(stack, failure.locks);
    expect(locks(stack).map((l) => l.file)).toEqual([live!.file]);
    expect(alive(live!.pid)).toBe(true);

    writeFileSync(`${release}-${stack}`, "");
    // The update's result carries the stack's outputs as the CLI read them after it (the caller reads no more).
    expect(await operators).toEqual({
      resourceChanges: { same: 1 }, // the root resource the killed update saved
      outputs: { projectId: `project-of-${stack}`, userId: `user-of-${stack}`, userName: stack, authUrl: "http://127.0.0.1:5000/v3", region: "RegionOne", domainId: "default", password: "e2e-password-0123456789" },
      // This program declares no quota resource: the update wrote none.
      quotaSets: {},
    });
    expect(locks(stack)).toEqual([]);
    // The stack history, read by the operator's own CLI from the work tree, is the audit log.
    const history = JSON.parse((await pulumi(["stack", "history", "--stack", stack, "--json"])).stdout) as Array<{ message: string; result: string }>;
    expect(history[0]).toMatchObject({ message: "an operator's update", result: "succeeded" });
  });

  it("a crash of the service leaves its engine host running until the update it began ends: the lock is released", async () => {
    const stack = "sub-crash";
    const parent = spawn(process.execPath, ["--import", "tsx", "test/support/engine-host-parent.ts"], {
      env: { ...process.env, ...hostEnv, ENGINE_PARENT_WORKDIR: workDir, ENGINE_PARENT_BACKEND: pathToFileURL(backendDir).href, ENGINE_PARENT_STACK: stack },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((r) => parent.once("exit", r));
    const { hostPid } = await new Promise<{ hostPid: number }>((ok, fail) => {
      createInterface({ input: parent.stdout! }).once("line", (l) => ok(JSON.parse(l) as { hostPid: number }));
      void exited.then(() => fail(new Error("the parent exited before its host started")));
    });
    const [held] = await until("the update's lock", () => (locks(stack).length === 1 ? locks(stack) : null));
    parent.kill("SIGKILL");
    await exited;
    // The service is gone; its host and the `pulumi up` go on (before: the host ended at once, execa
    // SIGTERMed the CLI, which died of SIGPIPE holding this lock).
    await new Promise((r) => setTimeout(r, 1000));
    expect(alive(hostPid)).toBe(true);
    expect(alive(held!.pid)).toBe(true);
    writeFileSync(`${release}-${stack}`, "");
    await until("the host to end once its update is done", () => !alive(hostPid));
    expect(existsSync(lockDir(backendDir, stack)) ? locks(stack) : []).toEqual([]);
    const [last] = await engineHost().history(stack);
    expect(last).toMatchObject({ message: "update begun by a service that then crashed", result: "succeeded" });
  });
});
