import { spawn } from "node:child_process";
import { accessSync, constants, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import {
  ConcurrentUpdateError,
  LocalWorkspace,
  PulumiCommand,
  Stack,
  StackAlreadyExistsError,
  StackNotFoundError,
  type EngineEvent,
  type PulumiFn,
} from "@pulumi/pulumi/automation/index.js";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { DriftDifference } from "../domain/drift.js";
import { StackOutputs } from "../domain/lifecycle.js";
import { BlockStorageQuota, ComputeQuota, NetworkQuota, QuotaReadBack, type QuotaSets } from "../domain/quota.js";
import { TENANT_RESOURCES, type TenantSpec } from "../domain/tenant-spec.js";
import type { QuotaService } from "../openstack/quota-sets.js";
import {
  EngineFailure,
  lockedFailure,
  type EngineCheck,
  type DriftReport,
  type Engine,
  type HistoryEntry,
  type Leftovers,
  type OperationSummary,
  type OutputSink,
  type UpResult,
  type PreviewResult,
  type ProgressSink,
  type StackChange,
} from "./engine.js";
import { conciseError, isTransientEngineError } from "./failure-classification.js";
import { describeProviderVersion } from "./provider-build.js";
import { ProviderAuth, tokenRefused } from "./provider-auth.js";
import { PassphraseKeyring, stackConfigSalt, writeStackConfig } from "./stack-config.js";
import { createStackFile } from "./stack-file.js";
import { lockFileOf, type StackLock } from "./stack-lock.js";

/**
 * The oldest CLI the engine works with: `refresh --clear-pending-creates` (adopting what an interrupted
 * create left) came in v3.39.0. The automation SDK itself asks only for v3.2.0 (automation/minimumVersion.js).
 */
export const MIN_CLI_VERSION = "3.39.0";
/** The provider plugin the program's `@pulumi/openstack` asks the engine for: the npm package's own version. */
export const PROVIDER_PLUGIN = {
  name: "openstack",
  // The package writes it "v3.15.2" (its build stamps the tag): the plugin is asked for by the bare number.
  version: (createRequire(import.meta.url)("@pulumi/openstack/package.json") as { version: string }).version.replace(/^v/, ""),
};

export interface PulumiEngineOptions {
  /** The repository root: Pulumi.yaml (main = src/program/main.ts, stackConfigDir = stacks). */
  workDir: string;
  /** e.g. file:///var/lib/openstack-tenants/pulumi; any backend URL Pulumi accepts. */
  backendUrl: string;
  passphrase: string;
  /** OpenStack admin credentials (`OS_*`, or `OS_CLOUD` + `OS_CLIENT_CONFIG_FILE`) for the provider. */
  openstackEnv: Record<string, string>;
  /** Redacts known secrets from messages before they leave the engine. */
  redact: (text: string) => string;
  /**
   * A module (file URL) whose `program` export the Automation API runs inline, in this process, through the
   * SDK's own language runtime; null: Pulumi.yaml's `main`, run by the CLI's pulumi-language-nodejs. Inline
   * needs no language host beside the CLI; the stacks, their config and history are the same either way.
   */
  inlineProgram?: string | null;
}

const SPEC_KEY = "tenant:spec";
const PASSWORD_KEY = "tenant:password";

/**
 * The production engine: Pulumi's Automation API over the local program in the repository root.
 *
 * An update is one CLI start (each 0.3-0.7 s of CPU before it does anything): `pulumi up`. A stack that does
 * not exist yet is written into a file backend by the service as `pulumi stack init` would (stack-file.ts; any
 * other backend: `stack init`, a second start). The stack is never selected (every command names it with
 * `--stack`), its config file is written by the service (stack-config.ts), and the outputs and change counts
 * come from the update's own event stream instead of the SDK's `stack output` (twice) and `stack history`
 * after it.
 *
 * Secrets never go on a command line (every local user can read `/proc/<pid>/cmdline`, and execa's error
 * text repeats the whole command): the password is encrypted into the stack config file by the service with
 * the passphrase provider's own scheme. The passphrase reaches the CLI in its environment only, and of the
 * admin's credentials only a Keystone token, only in the runs that start the provider (provider-auth.ts).
 */
export class PulumiEngine implements Engine {
  private command: Promise<PulumiCommand> | undefined;
  private readonly keyring: PassphraseKeyring;
  /** The provider's Keystone token (provider-auth.ts): the admin password never reaches a `pulumi` run. */
  private readonly auth: ProviderAuth;

  constructor(private readonly opts: PulumiEngineOptions) {
    this.keyring = new PassphraseKeyring(opts.passphrase);
    this.auth = new ProviderAuth(opts.openstackEnv);
  }

  /** The Pulumi CLI on PATH, at least MIN_CLI_VERSION; installing it is the operator's job. */
  private cli(): Promise<PulumiCommand> {
    this.command ??= PulumiCommand.get()
      .catch((e: unknown) => {
        throw cliUnusable(e);
      })
      .then((c) => {
        const version = c.version?.toString() ?? "unknown";
        if (!atLeast(version, MIN_CLI_VERSION)) throw tooOld(version);
        return c;
      })
      .catch((e: unknown) => {
        this.command = undefined;
        throw e;
      });
    return this.command;
  }

  /**
   * What the service needs before it can update a stack: a CLI of at least MIN_CLI_VERSION and the
   * OpenStack provider plugin, installed (`pulumi plugin install`) or on PATH (the CLI takes an ambient
   * `pulumi-resource-openstack` first: sdk/go/common/workspace/plugins.go getPluginInfoAndPath). Without the
   * plugin the first `up` would try to download it (which fails offline, slowly); the engine's environment
   * turns that download off, so the check is what tells the operator.
   */
  async check(): Promise<EngineCheck> {
    let cli: PulumiCommand;
    try {
      cli = await this.cli();
    } catch (e) {
      // A missing CLI is said by the readiness check already (readiness.ts): not blocking twice.
      return { cli: null, problems: [e instanceof Error ? e.message : String(e)], blocking: [], cliTooOld: e instanceof CliTooOld ? e.version : null };
    }
    const problems: string[] = [];
    const blocking: string[] = [];
    const { version } = PROVIDER_PLUGIN;
    const listed = await runCli(cli.command, ["plugin", "ls", "--json"], { cwd: this.opts.workDir, env: this.childEnv() }).catch(() => "");
    const installed = PluginList.safeParse(parseJsonOrNull(listed));
    const haveInstalled = installed.success && installed.data.some((p) => p.kind === "resource" && p.name === PROVIDER_PLUGIN.name && atLeast(p.version, version));
    const path = this.childEnv().PATH;
    if (!this.opts.inlineProgram && !onPath("pulumi-language-nodejs", path) && !onPath("pulumi-language-nodejs", dirname(cli.command))) {
      problems.push("the Node.js language host pulumi-language-nodejs is not beside the pulumi CLI (the official CLI archive has it): install it, or set PULUMI_PROGRAM=inline");
      blocking.push(problems[problems.length - 1] as string);
    }
    const provider = await this.providerInUse(path, haveInstalled);
    if (!haveInstalled && !onPath(`pulumi-resource-${PROVIDER_PLUGIN.name}`, path)) {
      problems.push(`the OpenStack provider plugin (resource ${PROVIDER_PLUGIN.name} v${version}) is not installed: run \`pulumi plugin install resource ${PROVIDER_PLUGIN.name} v${version}\` as the service's user (or put pulumi-resource-${PROVIDER_PLUGIN.name} on PATH)`);
      // Only a list the CLI gave proves it absent: a CLI that could not list its plugins holds nothing up.
      if (installed.success) blocking.push(problems[problems.length - 1] as string);
    }
    return { cli: `pulumi ${cli.version?.toString() ?? "?"}`, problems, blocking, cliTooOld: null, ...(provider ? { provider } : {}) };
  }

  /**
   * The plugin the CLI would start, as it finds one: on PATH first (an ambient plugin), else the installed
   * one under PULUMI_HOME; asked for its version (`-version`, tfbridge.Main), which says which build it is.
   */
  private async providerInUse(path: string | undefined, installed: boolean): Promise<string | undefined> {
    const file = `pulumi-resource-${PROVIDER_PLUGIN.name}`;
    const ambient = findOnPath(file, path);
    // biome-ignore lint/style/noProcessEnv: where the CLI keeps installed plugins (the same variables it reads)
    const home = this.childEnv().PULUMI_HOME ?? join(process.env.HOME ?? "", ".pulumi");
    const binary = ambient ?? (installed ? join(home, "plugins", `resource-${PROVIDER_PLUGIN.name}-v${PROVIDER_PLUGIN.version}`, file) : undefined);
    if (!binary) return undefined;
    const printed = await runCli(binary, ["-version"], { cwd: this.opts.workDir, env: { PATH: path ?? "" } }).catch(() => "");
    return printed ? describeProviderVersion(printed) : `the plugin at ${binary} (it did not say its version)`;
  }

  /**
   * What every CLI run gets in its environment (never in its arguments). The OpenStack variables are added
   * only to the runs that start the provider (`handle`'s `cloud`): `stack init` and `stack output` touch no cloud.
   */
  private env(): Record<string, string> {
    return {
      PULUMI_BACKEND_URL: this.opts.backendUrl,
      PULUMI_CONFIG_PASSPHRASE: this.opts.passphrase,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      // A plugin the program needs and the machine lacks fails the update at once, for good, naming the
      // plugin, instead of a download from the internet that hangs offline and reads as transient.
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
  }

  /** The environment of a CLI run the Automation API does not start: the service's own plus ours (as cmd.ts does). */
  private childEnv(): NodeJS.ProcessEnv {
    // biome-ignore lint/style/noProcessEnv: the environment handed on to a child process, not configuration
    return { ...process.env, ...this.env(), PULUMI_AUTOMATION_API: "true" };
  }

  private ws: Promise<LocalWorkspace> | undefined;
  /** The automation workspace over the project directory, made once (making it runs no CLI command). */
  private workspace(): Promise<LocalWorkspace> {
    this.ws ??= (async () => {
      const program = await this.inline();
      return LocalWorkspace.create({
        pulumiCommand: await this.cli(), secretsProvider: "passphrase", envVars: this.env(), workDir: this.opts.workDir, ...(program ? { program } : {}),
      });
    })().catch((e: unknown) => {
      this.ws = undefined;
      throw e;
    });
    return this.ws;
  }

  /**
   * A handle on a stack that runs no `pulumi stack select`: the SDK's Stack constructor selects (or inits), a
   * CLI start each, but every command the SDK then runs names the stack itself (`--stack`, Stack.runPulumiCmd
   * in automation/stack.js), so selecting would only write the workspace's current stack under ~/.pulumi,
   * which nothing here reads. A command on a stack that does not exist fails with StackNotFoundError.
   *
   * After up, destroy and refresh the SDK reads `stack history` for the summary it returns (Stack.info): the
   * handle answers from the summary event of the command's own event stream instead (`events`).
   */
  private async handle(name: string, events?: EventCapture, cloud = true): Promise<Stack> {
    const workspace = await this.workspace();
    // The workspace is shared by concurrent operations: each command copies its variables when it starts,
    // so a token renewed meanwhile reaches the next command, and the one running keeps a token still valid.
    if (cloud) workspace.envVars = { ...this.env(), ...(await this.auth.env()) };
    const stack = Object.create(Stack.prototype) as Stack;
    return Object.assign(stack, {
      name, workspace, ready: Promise.resolve(),
      info: async () => events?.summary ?? undefined,
      outputs: async () => ({}),
    });
  }

  /**
   * A new stack: its checkpoint written by the service into a file backend (stack-file.ts, as `stack init`
   * writes it, with the salt of the config file the service wrote first), else `pulumi stack init` (which keeps
   * that salt). One that exists is fine.
   */
  private async init(name: string): Promise<void> {
    const cli = await this.cli();
    const salt = stackConfigSalt(this.configFile(name));
    const project = this.project().name;
    if (salt && project && cli.version) {
      const written = createStackFile({ backendUrl: this.opts.backendUrl, project, stack: name, salt, cliVersion: cli.version.toString() });
      if (written !== "unsupported") return;
    }
    try {
      await runner(cli).run(["stack", "init", name, "--secrets-provider", "passphrase", "--no-select", "--non-interactive"], this.opts.workDir, this.env());
    } catch (e) {
      if (!(e instanceof StackAlreadyExistsError)) throw e;
    }
  }

  private program: Promise<PulumiFn | null> | undefined;
  private inline(): Promise<PulumiFn | null> {
    const module = this.opts.inlineProgram;
    this.program ??= module
      ? import(module).then((m: { program?: unknown }) => {
          if (typeof m.program !== "function") throw new EngineFailure(`the inline program ${module} exports no \`program\` function`, false);
          return m.program as PulumiFn;
        })
      : Promise.resolve(null);
    return this.program;
  }

  async up(req: StackChange): Promise<UpResult> {
    return this.withConciseFailures(async () => {
      await this.writeConfig(req.stack, req.spec, req.password);
      // A stack the caller did not find is created first (by the service, or `stack init`), not after a refusal.
      if (!req.exists) await this.init(req.stack);
      try {
        return await this.runUp(req);
      } catch (e) {
        if (!(e instanceof StackNotFoundError)) throw e;
        await this.init(req.stack);
        return await this.runUp(req);
      }
    }, [req.password]);
  }

  private async runUp(req: StackChange): Promise<UpResult> {
    const events = new EventCapture(progressOf(req.onProgress));
    const stack = await this.handle(req.stack, events);
    await stack.up({ message: req.message, refresh: req.refresh ?? false, onOutput: req.onOutput, onEvent: events.listener });
    // The stack's outputs as the event shows them, secrets masked: the one secret output is the password we set.
    const quotaSets = events.quotaSets();
    return { resourceChanges: events.changes(), outputs: outputsOf(events.stackOutputs, { password: req.password }), ...(quotaSets ? { quotaSets } : {}) };
  }

  /**
   * A preview reads the stack but never creates it or changes its config: the new spec (and the stack's
   * current password, from its outputs) go into a throw-away copy of the config file (`--config-file`).
   */
  async preview(req: { stack: string; spec: TenantSpec }): Promise<PreviewResult> {
    let password: string | undefined;
    return this.withConciseFailures(async () => {
      const current = await this.readOutputs(req.stack);
      if (current === NO_STACK) return previewOfNewStack(req.stack);
      password = current?.password;
      const dir = mkdtempSync(join(tmpdir(), "tenants-preview-"));
      try {
        const configFile = join(dir, `Pulumi.${req.stack}.yaml`);
        const own = this.configFile(req.stack);
        if (existsSync(own)) copyFileSync(own, configFile);
        await writeStackConfig(configFile, this.keyring, { [SPEC_KEY]: JSON.stringify(req.spec) }, password ? { [PASSWORD_KEY]: password } : {});
        const stack = await this.handle(req.stack);
        const result = await stack.preview({ diff: true, configFile });
        return { changeSummary: counts(result.changeSummary), text: this.opts.redact(result.stdout) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, () => (password ? [password] : []));
  }

  async destroy(req: { stack: string; message: string; onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<OperationSummary> {
    return this.withConciseFailures(async () => {
      const events = new EventCapture(progressOf(req.onProgress));
      const stack = await this.handle(req.stack, events);
      try {
        await stack.destroy({ message: req.message, onOutput: req.onOutput, onEvent: events.listener });
      } catch (e) {
        // A stack that never existed has nothing to destroy (a purchase cancelled before its first update).
        if (e instanceof StackNotFoundError) return { resourceChanges: {} };
        throw e;
      }
      return { resourceChanges: events.changes() };
    });
  }

  async refresh(req: { stack: string; message: string; onOutput?: OutputSink }): Promise<OperationSummary> {
    return this.withConciseFailures(async () => {
      const events = new EventCapture();
      const stack = await this.handle(req.stack, events);
      await stack.refresh({ message: req.message, onOutput: req.onOutput, onEvent: events.listener });
      return { resourceChanges: events.changes() };
    });
  }

  async adopt(req: { stack: string; message: string; found: Leftovers }): Promise<string[]> {
    return this.withConciseFailures(async () => {
      const stack = await this.handle(req.stack, new EventCapture());
      // The dead run's pending CREATE operations would make the next `up` create the project again.
      try {
        await stack.refresh({ clearPendingCreates: true, message: `${req.message}: clear pending creates` });
      } catch (e) {
        if (e instanceof StackNotFoundError) return [];
        throw e;
      }
      const state = await stack.exportStack();
      const urns = new Set(DeploymentResources.parse(state.deployment).resources.map((r) => r.urn.slice(r.urn.lastIndexOf("::") + 2)));
      const wanted = [
        { name: "project", id: req.found.projectId },
        { name: "user", id: req.found.userId },
      ].filter((r): r is { name: "project" | "user"; id: string } => !!r.id && !urns.has(r.name));
      if (wanted.length === 0) return [];
      await stack.import({
        resources: wanted.map((r) => ({ type: TENANT_RESOURCES.find((t) => t.name === r.name)!.type, name: r.name, id: r.id })),
        protect: false,
        generateCode: false,
        message: `${req.message}: adopt ${wanted.map((r) => `${r.name} ${r.id}`).join(", ")}`,
      });
      return wanted.map((r) => `${r.name} ${r.id}`);
    });
  }

  async history(name: string): Promise<HistoryEntry[]> {
    return this.withConciseFailures(async () => {
      const stack = await this.handle(name, undefined, false);
      const entries = await stack.history().catch((e: unknown) => {
        if (e instanceof StackNotFoundError) return [];
        throw e;
      });
      return entries.map((h) => ({
        version: h.version,
        kind: h.kind,
        message: h.message,
        result: h.result,
        startTime: h.startTime.toISOString(),
        endTime: h.endTime ? h.endTime.toISOString() : null,
        resourceChanges: counts(h.resourceChanges),
      }));
    });
  }

  async outputs(name: string): Promise<StackOutputs | null> {
    return this.withConciseFailures(async () => {
      const outputs = await this.readOutputs(name);
      return outputs === NO_STACK ? null : outputs;
    });
  }

  /**
   * One `pulumi stack output --json --show-secrets`: the SDK's stackOutputs runs it twice (masked, then
   * shown, to tell which are secret), which these outputs do not need.
   */
  private async readOutputs(name: string): Promise<StackOutputs | null | typeof NO_STACK> {
    const cli = await this.cli();
    try {
      const { stdout } = await runner(cli).run(["stack", "output", "--json", "--show-secrets", "--stack", name], this.opts.workDir, this.env());
      const parsed = StackOutputs.safeParse(parseJsonOrNull(stdout));
      return parsed.success ? parsed.data : null;
    } catch (e) {
      if (e instanceof StackNotFoundError) return NO_STACK;
      throw e;
    }
  }

  async drift(name: string): Promise<DriftReport | null> {
    return this.withConciseFailures(async () => {
      const stack = await this.handle(name);
      const differences: DriftDifference[] = [];
      try {
        // A refresh preview reads every resource from OpenStack and diffs it against the state; it writes nothing.
        await stack.previewRefresh({
          onEvent: (e: EngineEvent) => {
            const d = driftOf(e);
            if (d) differences.push(d);
          },
        });
      } catch (e) {
        if (e instanceof StackNotFoundError) return null;
        throw e;
      }
      return { differences };
    });
  }

  /**
   * Removes exactly the locks named, whose owners the caller proved dead. `pulumi cancel` would not do:
   * on a DIY backend it deletes every lock file of the stack (`CancelCurrentUpdate` in
   * pkg/backend/diy/backend.go), a live one taken since the refusal (an operator's `pulumi up` after his own
   * cancel, a second service on this host) included. So on a `file://` backend each named file is removed
   * only if it still holds the same owner; on another backend (S3, Azure, GCS, PostgreSQL: no file to name)
   * `pulumi cancel` remains, and with it the narrow race the README names.
   */
  async breakLocks(name: string, locks: StackLock[]): Promise<void> {
    const files = locks.map((l) => ({ lock: l, file: lockFileOf(l, this.opts.backendUrl) }));
    if (files.every((f) => f.file !== null)) {
      for (const { lock, file } of files) removeLockFile(file as string, lock);
      return;
    }
    return this.withConciseFailures(async () => {
      const stack = await this.handle(name, undefined, false);
      await stack.cancel().catch((e: unknown) => {
        if (!(e instanceof StackNotFoundError)) throw e;
      });
    });
  }

  private projectFile: ProjectFile | undefined;
  private project(): ProjectFile {
    this.projectFile ??= projectFileOf(this.opts.workDir);
    return this.projectFile;
  }

  /** Where the CLI looks for the stack's config file: Pulumi.yaml's `stackConfigDir` (stacks/ here), else beside it. */
  private configFile(stack: string): string {
    return join(this.project().configDir, `Pulumi.${stack}.yaml`);
  }

  /**
   * Writes the spec (plain: it holds no secret) and the password (encrypted by the passphrase provider)
   * into this work tree's stacks/Pulumi.<stack>.yaml, each only when it differs from what is there. The
   * file is a local copy for operators at a shell: the password it holds comes from the caller, who read
   * it from the stack's outputs in the shared backend.
   */
  private async writeConfig(stack: string, spec: TenantSpec, password: string): Promise<void> {
    await writeStackConfig(this.configFile(stack), this.keyring, { [SPEC_KEY]: JSON.stringify(spec) }, { [PASSWORD_KEY]: password });
  }

  /**
   * Maps every failure to an EngineFailure whose message is concise and free of secrets: the known ones
   * (redactor) and this operation's tenant password, which the redactor cannot know.
   */
  private async withConciseFailures<T>(fn: () => Promise<T>, secrets: string[] | (() => string[]) = []): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const hidden = [...(typeof secrets === "function" ? secrets() : secrets), ...this.auth.secrets()];
      const clean = (text: string) => this.opts.redact(hidden.reduce((t, s) => (s ? t.split(s).join("[redacted]") : t), text));
      if (e instanceof EngineFailure) throw new EngineFailure(clean(e.message), e.transient, e.locks);
      const raw = e instanceof Error ? e.message : String(e);
      if (e instanceof ConcurrentUpdateError || /currently locked/.test(raw)) throw lockedFailure(clean(conciseLockMessage(raw)));
      this.auth.failed(raw);
      const message = clean(conciseError(raw));
      throw new EngineFailure(message, isTransientEngineError(message) || tokenRefused(raw));
    }
  }
}

/**
 * Why the CLI cannot be used. `PulumiCommand.get` runs `pulumi version` and checks it against the SDK's
 * minimum: a missing binary (ENOENT) is one cause among others (too old, not executable, crashing).
 */
export function cliUnusable(e: unknown): EngineFailure {
  const text = e instanceof Error ? e.message : String(e);
  if (/ENOENT/.test(text)) return new EngineFailure("the pulumi CLI was not found on PATH: install it for the service's user and retry", false);
  return new EngineFailure(`the pulumi CLI on PATH cannot be used: ${conciseError(text, 500)}`, false);
}

class CliTooOld extends EngineFailure {
  constructor(readonly version: string) {
    super(`the pulumi CLI on PATH is v${version}; the service needs v${MIN_CLI_VERSION} or newer (for refresh --clear-pending-creates): upgrade it`, false);
  }
}
const tooOld = (version: string) => new CliTooOld(version);

/** Whether dotted version `v` (a leading "v" and a pre-release part ignored) is at least `min`. */
export function atLeast(v: string, min: string): boolean {
  const parts = (s: string) => s.replace(/^v/, "").split(/[-+]/)[0]!.split(".").map((n) => Number.parseInt(n, 10));
  const [a, b] = [parts(v), parts(min)];
  if (a.some(Number.isNaN)) return false;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** `pulumi plugin ls --json` (pkg/cmd/pulumi/plugin/plugin_list.go pluginInfoJSON): fields we read only. */
const PluginList = z.array(z.object({ name: z.string(), kind: z.string(), version: z.string() })).nullable().transform((l) => l ?? []);

function parseJsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function onPath(file: string, path: string | undefined): boolean {
  return findOnPath(file, path) !== undefined;
}

/** The first executable `file` in a PATH's directories, as a shell would run it. */
function findOnPath(file: string, path: string | undefined): string | undefined {
  return (path ?? "").split(delimiter).map((dir) => join(dir, file)).find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Deletes a lock file if it still names the owner read from the refusal (another lock may reuse nothing of it). */
function removeLockFile(file: string, lock: StackLock): void {
  let held: unknown;
  try {
    held = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // already gone: someone else broke it
    throw e;
  }
  const owner = LockContent.safeParse(held);
  if (owner.success && owner.data.pid === lock.pid && owner.data.hostname === lock.hostname) {
    try {
      unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}
/** lock.go's lockContent, the fields that say whose it is. */
const LockContent = z.object({ pid: z.number(), hostname: z.string() });

/**
 * Runs a CLI command that reads nothing (`plugin ls`, a plugin's `-version`); its stdout, or a rejection with its
 * stderr. Its standard input is closed: no pipe is left for an early exit to break (an unheard EPIPE on one
 * once ended the whole engine host).
 */
function runCli(command: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`pulumi ${args.slice(0, 2).join(" ")} failed (exit ${code}): ${stderr.trim()}`))));
  });
}

/** Without a stack there is nothing to diff against: an update would create every resource of the program. */
function previewOfNewStack(stack: string): PreviewResult {
  const lines = TENANT_RESOURCES.map((r) => `    + ${r.type} ${r.name} create`);
  return {
    changeSummary: { create: TENANT_RESOURCES.length },
    text: `Stack ${stack} does not exist yet: its first update will create it and\n${lines.join("\n")}\nResources:\n    + ${TENANT_RESOURCES.length} to create\n`,
  };
}

/** The lock lines of a "currently locked" error, whatever the CLI printed around them. */
function conciseLockMessage(raw: string): string {
  const lines = raw.split("\n").filter((l) => /currently locked|created by .*\(pid \d+\)/.test(l));
  return lines.length > 0 ? lines.join("\n") : conciseError(raw);
}

/**
 * PulumiCommand.run (automation/cmd.js at v3.248.0): how LocalWorkspace runs every command (our environment
 * over the process's, failures mapped to StackNotFoundError, StackAlreadyExistsError, ConcurrentUpdateError);
 * in the SDK's JavaScript, left out of its typings.
 */
interface CommandRunner {
  run(args: string[], cwd: string, additionalEnv: Record<string, string>): Promise<{ stdout: string; stderr: string; code: number }>;
}
const runner = (cli: PulumiCommand) => cli as unknown as CommandRunner;

/** Pulumi.yaml's `stackConfigDir` (sdk/go/common/workspace/project.go: relative to the project), else the project's directory. */
interface ProjectFile {
  /** The project's name (Pulumi.yaml `name`), which the backend files its stacks under; null if it has none. */
  name: string | null;
  configDir: string;
}

function projectFileOf(workDir: string): ProjectFile {
  const project = z.object({ name: z.string().min(1).optional(), stackConfigDir: z.string().optional() }).passthrough().safeParse(parseYaml(readFileSync(join(workDir, "Pulumi.yaml"), "utf8")));
  const data = project.success ? project.data : {};
  return { name: data.name ?? null, configDir: resolve(workDir, data.stackConfigDir ?? ".") };
}

/** readOutputs' answer for a stack the backend does not have (null: a stack without the tenant's outputs). */
const NO_STACK = Symbol("no stack");

/**
 * The stack's outputs as its resource-outputs event carries them, secrets masked
 * (`{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}`, the
 * engine's secret signature): each masked output is taken from `secrets`, the values the caller set.
 */
function outputsOf(out: Record<string, unknown> | undefined, secrets: Record<string, string>): StackOutputs | null {
  if (!out) return null;
  const isMasked = (v: unknown) => typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
  const parsed = StackOutputs.safeParse(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, isMasked(v) ? secrets[k] : v])));
  return parsed.success ? parsed.data : null;
}
// sdk/go/common/resource/sig: the key and value that mark a secret in the engine's serialized properties.
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/**
 * What one command's event stream says that the SDK would otherwise ask the CLI for after it: the root
 * stack's outputs and the summary (its change counts); every event is passed on to `next` (live progress).
 */
class EventCapture {
  stackOutputs: Record<string, unknown> | undefined;
  summary: { resourceChanges: Record<string, number> } | undefined;
  private readonly readBack: QuotaReadBack = {};
  constructor(private readonly next?: (e: EngineEvent) => void) {}

  readonly listener = (e: EngineEvent): void => {
    const outputs = e.resOutputsEvent?.metadata;
    if (outputs?.type === "pulumi:pulumi:Stack") this.stackOutputs = outputs.new?.outputs;
    const quota = outputs ? QUOTA_RESOURCES[outputs.type] : undefined;
    if (outputs && quota && WRITTEN.has(outputs.op)) {
      const parsed = quota.schema.safeParse(outputs.new?.outputs);
      Object.assign(this.readBack, { [quota.service]: parsed.success ? parsed.data : null });
    }
    if (e.summaryEvent) this.summary = { resourceChanges: e.summaryEvent.resourceChanges as Record<string, number> };
    this.next?.(e);
  };

  changes(): Record<string, number> {
    return counts(this.summary?.resourceChanges);
  }

  /** The quota sets the update wrote, as the provider read them back; only from a stream seen to its end. */
  quotaSets(): QuotaReadBack | undefined {
    return this.summary ? QuotaReadBack.parse(this.readBack) : undefined;
  }
}

/**
 * The program's quota resources (TENANT_RESOURCES) by type, with the quota set each is: the program passes
 * the set's fields as the resource's inputs under the same names (program/tenant.ts), so its outputs carry them
 * too (other outputs, `projectId`, `region`, `volumeTypeQuota`, are dropped).
 */
const typeOf = (name: (typeof TENANT_RESOURCES)[number]["name"]) => TENANT_RESOURCES.find((r) => r.name === name)?.type ?? name;
const QUOTA_RESOURCES: Record<string, { service: QuotaService; schema: z.ZodType<QuotaSets[QuotaService]> } | undefined> = {
  [typeOf("compute-quota")]: { service: "compute", schema: z.object(ComputeQuota.shape) },
  [typeOf("blockstorage-quota")]: { service: "blockStorage", schema: z.object(BlockStorageQuota.shape) },
  [typeOf("network-quota")]: { service: "network", schema: z.object(NetworkQuota.shape) },
};
/**
 * The steps after which a resource's outputs are the provider's read of the service: a Terraform resource's
 * Create and Update end with its Read (terraform-provider-openstack's quota resources: `return ...Read(...)`).
 */
const WRITTEN = new Set<string>(["create", "update", "replace", "create-replacement"]);

const DeploymentResources = z.object({ resources: z.array(z.object({ urn: z.string() })).default([]) });

/** Our own resources only: the stack and the provider are Pulumi's bookkeeping, not the tenant. */
const isTenantResource = (type: string) => !type.startsWith("pulumi:");
const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

function progressOf(sink: ProgressSink | undefined): ((e: EngineEvent) => void) | undefined {
  if (!sink) return undefined;
  return (e) => {
    const step = e.resourcePreEvent ?? e.resOutputsEvent ?? e.resOpFailedEvent;
    if (!step || !isTenantResource(step.metadata.type) || ("planning" in step && step.planning)) return;
    const state = e.resourcePreEvent ? "started" : e.resOutputsEvent ? "done" : "failed";
    sink({ name: nameOf(step.metadata.urn), type: step.metadata.type, op: step.metadata.op, state });
  };
}

/** One difference found by a refresh preview: a resource changed (or deleted) outside the stack. */
export function driftOf(e: EngineEvent): DriftDifference | null {
  const step = e.resOutputsEvent;
  if (!step || !isTenantResource(step.metadata.type)) return null;
  const m = step.metadata;
  const properties = [...new Set([...(m.diffs ?? []), ...Object.keys(m.detailedDiff ?? {})])].sort();
  if (m.op === "same" || (m.op === "refresh" && properties.length === 0)) return null;
  return { resource: nameOf(m.urn), type: m.type, change: m.op === "refresh" ? "update" : m.op, properties };
}

function counts(changes: Record<string, number> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(changes ?? {}).filter(([, n]) => typeof n === "number"));
}
