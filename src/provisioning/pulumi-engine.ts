import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConcurrentUpdateError,
  LocalWorkspace,
  type PulumiCommand,
  Stack,
  StackAlreadyExistsError,
  StackNotFoundError,
  type EngineEvent,
  type PulumiFn,
} from "@pulumi/pulumi/automation/index.js";
import { z } from "zod";
import type { DriftDifference } from "../domain/drift.js";
import type { StackOutputs } from "../domain/lifecycle.js";
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
import { counts, driftOf, EventCapture, nameOf, progressOf } from "./engine-events.js";
import { conciseError, isTransientEngineError } from "./failure-classification.js";
import { projectFileOf, type ProjectFile } from "./project-file.js";
import { ProviderAuth, tokenRefused } from "./provider-auth.js";
import { CliTooOld, runner, toolchainCheck, usableCli } from "./pulumi-cli.js";
import { PassphraseKeyring, stackConfigSalt, writeStackConfig } from "./stack-config.js";
import { createStackFile } from "./stack-file.js";
import { conciseLockMessage, lockFileOf, removeLockFile, type StackLock } from "./stack-lock.js";
import { NO_STACK, outputsOf, readStackOutputs } from "./stack-outputs.js";

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
    this.command ??= usableCli().catch((e: unknown) => {
      this.command = undefined;
      throw e;
    });
    return this.command;
  }

  /** A usable CLI (pulumi-cli.ts) and what it needs beside it: the language host, the provider plugin. */
  async check(): Promise<EngineCheck> {
    let cli: PulumiCommand;
    try {
      cli = await this.cli();
    } catch (e) {
      // A missing CLI is said by the readiness check already (readiness.ts): not blocking twice.
      return { cli: null, problems: [e instanceof Error ? e.message : String(e)], blocking: [], cliTooOld: e instanceof CliTooOld ? e.version : null };
    }
    return toolchainCheck(cli, { workDir: this.opts.workDir, inlineProgram: !!this.opts.inlineProgram, env: () => this.childEnv() });
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
      const urns = new Set(DeploymentResources.parse(state.deployment).resources.map((r) => nameOf(r.urn)));
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

  /** The stack's outputs, read from the backend (stack-outputs.ts); NO_STACK when it has no such stack. */
  private async readOutputs(name: string): Promise<StackOutputs | null | typeof NO_STACK> {
    return readStackOutputs(await this.cli(), name, { workDir: this.opts.workDir, env: this.env() });
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

/** Without a stack there is nothing to diff against: an update would create every resource of the program. */
function previewOfNewStack(stack: string): PreviewResult {
  const lines = TENANT_RESOURCES.map((r) => `    + ${r.type} ${r.name} create`);
  return {
    changeSummary: { create: TENANT_RESOURCES.length },
    text: `Stack ${stack} does not exist yet: its first update will create it and\n${lines.join("\n")}\nResources:\n    + ${TENANT_RESOURCES.length} to create\n`,
  };
}

/** `stack export`'s deployment: the URNs of the resources the state holds. */
const DeploymentResources = z.object({ resources: z.array(z.object({ urn: z.string() })).default([]) });
