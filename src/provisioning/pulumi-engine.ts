import { spawn } from "node:child_process";
import { accessSync, constants, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import {
  ConcurrentUpdateError,
  LocalWorkspace,
  PulumiCommand,
  StackNotFoundError,
  type EngineEvent,
  type PulumiFn,
  type Stack,
} from "@pulumi/pulumi/automation/index.js";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { z } from "zod";
import type { DriftDifference } from "../domain/drift.js";
import { StackOutputs } from "../domain/lifecycle.js";
import { TENANT_RESOURCES, type TenantSpec } from "../domain/tenant-spec.js";
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

/** Pulumi.yaml's `name`. */
const PROJECT_NAME = "openstack-tenants";
/** Pulumi.yaml's `stackConfigDir`: where `pulumi preview --stack sub-42` at a shell finds the config. */
const STACK_CONFIG_DIR = "stacks";
const SPEC_KEY = "tenant:spec";
const PASSWORD_KEY = "tenant:password";

/**
 * The production engine: Pulumi's Automation API over the local program in the repository root.
 *
 * Secrets never go on a command line (every local user can read `/proc/<pid>/cmdline`, and execa's error
 * text repeats the whole command): the automation SDK's `setConfig`/`setAllConfig` pass values as
 * arguments, so the password is written by `pulumi config set --secret <key>` with the value on standard
 * input, which the CLI reads when stdin is not a terminal (`pkg/cmd/pulumi/config/config_set.go`). The
 * passphrase and the admin credentials reach the CLI in its environment only.
 */
export class PulumiEngine implements Engine {
  private command: Promise<PulumiCommand> | undefined;

  constructor(private readonly opts: PulumiEngineOptions) {}

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
    const listed = await runCli(cli.command, ["plugin", "ls", "--json"], { cwd: this.opts.workDir, env: this.childEnv() }, "").catch(() => "");
    const installed = PluginList.safeParse(parseJsonOrNull(listed));
    const haveInstalled = installed.success && installed.data.some((p) => p.kind === "resource" && p.name === PROVIDER_PLUGIN.name && atLeast(p.version, version));
    const path = this.childEnv().PATH;
    if (!this.opts.inlineProgram && !onPath("pulumi-language-nodejs", path) && !onPath("pulumi-language-nodejs", dirname(cli.command))) {
      problems.push("the Node.js language host pulumi-language-nodejs is not beside the pulumi CLI (the official CLI archive has it): install it, or set PULUMI_PROGRAM=inline");
      blocking.push(problems[problems.length - 1] as string);
    }
    if (!haveInstalled && !onPath(`pulumi-resource-${PROVIDER_PLUGIN.name}`, path)) {
      problems.push(`the OpenStack provider plugin (resource ${PROVIDER_PLUGIN.name} v${version}) is not installed: run \`pulumi plugin install resource ${PROVIDER_PLUGIN.name} v${version}\` as the service's user (or put pulumi-resource-${PROVIDER_PLUGIN.name} on PATH)`);
      // Only a list the CLI gave proves it absent: a CLI that could not list its plugins holds nothing up.
      if (installed.success) blocking.push(problems[problems.length - 1] as string);
    }
    return { cli: `pulumi ${cli.version?.toString() ?? "?"}`, problems, blocking, cliTooOld: null };
  }

  /** What every CLI run gets in its environment (never in its arguments). */
  private env(): Record<string, string> {
    return {
      ...this.opts.openstackEnv,
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

  private async stack(name: string, create: boolean): Promise<Stack> {
    const pulumiCommand = await this.cli();
    const wsOpts = { pulumiCommand, secretsProvider: "passphrase", envVars: this.env(), workDir: this.opts.workDir };
    const program = await this.inline();
    if (program) {
      // The work tree's Pulumi.yaml still names the project and `stackConfigDir` (the SDK reads it from workDir).
      const args = { stackName: name, projectName: PROJECT_NAME, program };
      return create ? LocalWorkspace.createOrSelectStack(args, wsOpts) : LocalWorkspace.selectStack(args, wsOpts);
    }
    const args = { stackName: name, workDir: this.opts.workDir };
    return create ? LocalWorkspace.createOrSelectStack(args, wsOpts) : LocalWorkspace.selectStack(args, wsOpts);
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
      const stack = await this.stack(req.stack, true);
      await this.writeConfig(stack, req.spec, req.password);
      const result = await stack.up({
        message: req.message, refresh: req.refresh ?? false, onOutput: req.onOutput, onEvent: progressOf(req.onProgress),
      });
      return { resourceChanges: counts(result.summary.resourceChanges), outputs: outputsOf(result.outputs) };
    }, [req.password]);
  }

  /**
   * A preview reads the stack but never creates it or changes its config: the new spec (and the stack's
   * current password, from its outputs) go into a throw-away copy of the config file (`--config-file`).
   */
  async preview(req: { stack: string; spec: TenantSpec }): Promise<PreviewResult> {
    let password: string | undefined;
    return this.withConciseFailures(async () => {
      const stack = await this.selectOrNull(req.stack);
      if (!stack) return previewOfNewStack(req.stack);
      const outputs = await this.outputsOf(stack);
      password = outputs?.password;
      const dir = mkdtempSync(join(tmpdir(), "tenants-preview-"));
      try {
        const configFile = join(dir, `Pulumi.${req.stack}.yaml`);
        const own = join(this.opts.workDir, STACK_CONFIG_DIR, `Pulumi.${req.stack}.yaml`);
        if (existsSync(own)) copyFileSync(own, configFile);
        writeSpecInto(configFile, req.spec);
        if (password) await this.setSecret(req.stack, PASSWORD_KEY, password, configFile);
        const result = await stack.preview({ diff: true, configFile });
        return { changeSummary: counts(result.changeSummary), text: this.opts.redact(result.stdout) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, () => (password ? [password] : []));
  }

  async destroy(req: { stack: string; message: string; onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<OperationSummary> {
    return this.withConciseFailures(async () => {
      const stack = await this.selectOrNull(req.stack);
      // A stack that never existed has nothing to destroy (a purchase cancelled before its first update).
      if (!stack) return { resourceChanges: {} };
      const result = await stack.destroy({ message: req.message, onOutput: req.onOutput, onEvent: progressOf(req.onProgress) });
      return { resourceChanges: counts(result.summary.resourceChanges) };
    });
  }

  async refresh(req: { stack: string; message: string; onOutput?: OutputSink }): Promise<OperationSummary> {
    return this.withConciseFailures(async () => {
      const stack = await this.stack(req.stack, false);
      const result = await stack.refresh({ message: req.message, onOutput: req.onOutput });
      return { resourceChanges: counts(result.summary.resourceChanges) };
    });
  }

  async adopt(req: { stack: string; message: string; found: Leftovers }): Promise<string[]> {
    return this.withConciseFailures(async () => {
      const stack = await this.selectOrNull(req.stack);
      if (!stack) return [];
      // The dead run's pending CREATE operations would make the next `up` create the project again.
      await stack.refresh({ clearPendingCreates: true, message: `${req.message}: clear pending creates` });
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
      const stack = await this.selectOrNull(name);
      if (!stack) return [];
      const entries = await stack.history();
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
      const stack = await this.selectOrNull(name);
      return stack ? this.outputsOf(stack) : null;
    });
  }

  private async outputsOf(stack: Stack): Promise<StackOutputs | null> {
    return outputsOf(await stack.outputs());
  }

  async drift(name: string): Promise<DriftReport | null> {
    return this.withConciseFailures(async () => {
      const stack = await this.selectOrNull(name);
      if (!stack) return null;
      const differences: DriftDifference[] = [];
      // A refresh preview reads every resource from OpenStack and diffs it against the state; it writes nothing.
      await stack.previewRefresh({
        onEvent: (e: EngineEvent) => {
          const d = driftOf(e);
          if (d) differences.push(d);
        },
      });
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
      const stack = await this.selectOrNull(name);
      await stack?.cancel();
    });
  }

  private async selectOrNull(name: string): Promise<Stack | null> {
    try {
      return await this.stack(name, false);
    } catch (e) {
      if (e instanceof StackNotFoundError) return null;
      throw e;
    }
  }

  /**
   * Writes the spec (plain: it holds no secret) and the password (encrypted by the passphrase provider)
   * into this work tree's stacks/Pulumi.<stack>.yaml, each only when it differs from what is there. The
   * file is a local copy for operators at a shell: the password it holds comes from the caller, who read
   * it from the stack's outputs in the shared backend.
   */
  private async writeConfig(stack: Stack, spec: TenantSpec, password: string): Promise<void> {
    const config = await stack.getAllConfig();
    const specJson = JSON.stringify(spec);
    if (config[SPEC_KEY]?.value !== specJson) await stack.setConfig(SPEC_KEY, { value: specJson });
    if (config[PASSWORD_KEY]?.value !== password) await this.setSecret(stack.name, PASSWORD_KEY, password);
  }

  /** `pulumi config set --secret <key>` with the value on standard input (see the class comment). */
  private async setSecret(stack: string, key: string, value: string, configFile?: string): Promise<void> {
    const cli = await this.cli();
    const args = ["config", "set", "--secret", "--stack", stack, ...(configFile ? ["--config-file", configFile] : []), "--non-interactive", key];
    // The CLI gets the service's own environment (PATH, HOME, proxies) plus ours, exactly as the Automation
    // API's LocalWorkspace runs it (pulumi/sdk/nodejs/automation/cmd.ts spreads process.env the same way).
    await runCli(cli.command, args, { cwd: this.opts.workDir, env: this.childEnv() }, value);
  }

  /**
   * Maps every failure to an EngineFailure whose message is concise and free of secrets: the known ones
   * (redactor) and this operation's tenant password, which the redactor cannot know.
   */
  private async withConciseFailures<T>(fn: () => Promise<T>, secrets: string[] | (() => string[]) = []): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const hidden = typeof secrets === "function" ? secrets() : secrets;
      const clean = (text: string) => this.opts.redact(hidden.reduce((t, s) => (s ? t.split(s).join("[redacted]") : t), text));
      if (e instanceof EngineFailure) throw new EngineFailure(clean(e.message), e.transient, e.locks);
      const raw = e instanceof Error ? e.message : String(e);
      if (e instanceof ConcurrentUpdateError || /currently locked/.test(raw)) throw lockedFailure(clean(conciseLockMessage(raw)));
      const message = clean(conciseError(raw));
      throw new EngineFailure(message, isTransientEngineError(message));
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
  return (path ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, file), constants.X_OK);
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

/** Runs a CLI command with `input` on its standard input; its stdout, or a rejection with its stderr. */
function runCli(command: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`pulumi ${args.slice(0, 2).join(" ")} failed (exit ${code}): ${stderr.trim()}`))));
    // A command that reads no input (`plugin ls`) may exit before the write lands: EPIPE on its stdin, an
    // 'error' event that, unheard, ended the whole engine host (seen with a fast CLI). Its exit code and
    // stderr say how the command went; the pipe's error adds nothing.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

/** Sets `tenant:spec` in a stack config file (YAML), keeping everything else (salt, encrypted password). */
function writeSpecInto(file: string, spec: TenantSpec): void {
  const doc = (existsSync(file) ? (parseYaml(readFileSync(file, "utf8")) as Record<string, unknown> | null) : null) ?? {};
  const config = (doc.config as Record<string, unknown> | undefined) ?? {};
  writeFileSync(file, stringifyYaml({ ...doc, config: { ...config, [SPEC_KEY]: JSON.stringify(spec) } }), { mode: 0o600 });
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

/** The automation SDK's OutputMap ({ value, secret } per output) as the tenant's outputs, or null. */
function outputsOf(out: Record<string, { value: unknown }>): StackOutputs | null {
  const parsed = StackOutputs.safeParse(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value])));
  return parsed.success ? parsed.data : null;
}

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
