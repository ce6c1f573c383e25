import { randomBytes } from "node:crypto";
import {
  CommandError,
  ConcurrentUpdateError,
  LocalWorkspace,
  PulumiCommand,
  StackNotFoundError,
  type Stack,
} from "@pulumi/pulumi/automation/index.js";
import { z } from "zod";
import type { EngineEvent } from "@pulumi/pulumi/automation/index.js";
import {
  EngineFailure,
  lockOwnerOf,
  type DriftDifference,
  type DriftReport,
  type Engine,
  type HistoryEntry,
  type OperationSummary,
  type OutputSink,
  type PreviewResult,
  type ProgressSink,
  type StackChange,
  type StackOutputs,
} from "./engine.js";
import { conciseError, isTransientEngineError } from "./failure-classification.js";

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
}

const StackOutputsSchema = z.object({
  projectId: z.string(), userId: z.string(), userName: z.string(), authUrl: z.string(),
  region: z.string(), domainId: z.string(), password: z.string(),
});

/** The production engine: Pulumi's Automation API over the local program in the repository root. */
export class PulumiEngine implements Engine {
  private command: Promise<PulumiCommand> | undefined;

  constructor(private readonly opts: PulumiEngineOptions) {}

  /** The Pulumi CLI on PATH; installing it is the operator's job (it cannot be fetched here). */
  private cli(): Promise<PulumiCommand> {
    this.command ??= PulumiCommand.get().catch(() => {
      this.command = undefined;
      // The command error repeats "spawn pulumi ENOENT" with empty stdout/stderr: say what to do instead.
      throw new EngineFailure("the pulumi CLI was not found on PATH: install it for the service's user and retry", false);
    });
    return this.command;
  }

  private async stack(name: string, create: boolean): Promise<Stack> {
    const pulumiCommand = await this.cli();
    const args = { stackName: name, workDir: this.opts.workDir };
    const wsOpts = {
      pulumiCommand,
      secretsProvider: "passphrase",
      envVars: {
        ...this.opts.openstackEnv,
        PULUMI_BACKEND_URL: this.opts.backendUrl,
        PULUMI_CONFIG_PASSPHRASE: this.opts.passphrase,
        PULUMI_SKIP_UPDATE_CHECK: "true",
      },
    };
    return create ? LocalWorkspace.createOrSelectStack(args, wsOpts) : LocalWorkspace.selectStack(args, wsOpts);
  }

  async up(req: StackChange): Promise<OperationSummary> {
    return this.guard(async () => {
      const stack = await this.writeConfig(req.stack, req.spec);
      const result = await stack.up({ message: req.message, onOutput: req.onOutput, onEvent: progressOf(req.onProgress) });
      return { resourceChanges: counts(result.summary.resourceChanges) };
    });
  }

  async preview(req: Omit<StackChange, "message">): Promise<PreviewResult> {
    return this.guard(async () => {
      const stack = await this.writeConfig(req.stack, req.spec);
      const result = await stack.preview({ diff: true, onOutput: req.onOutput });
      return { changeSummary: counts(result.changeSummary), text: this.opts.redact(result.stdout) };
    });
  }

  async destroy(req: { stack: string; message: string; onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<OperationSummary> {
    return this.guard(async () => {
      const stack = await this.stack(req.stack, true);
      const result = await stack.destroy({ message: req.message, onOutput: req.onOutput, onEvent: progressOf(req.onProgress) });
      return { resourceChanges: counts(result.summary.resourceChanges) };
    });
  }

  async refresh(req: { stack: string; message: string; onOutput?: OutputSink }): Promise<OperationSummary> {
    return this.guard(async () => {
      const stack = await this.stack(req.stack, false);
      const result = await stack.refresh({ message: req.message, onOutput: req.onOutput });
      return { resourceChanges: counts(result.summary.resourceChanges) };
    });
  }

  async history(name: string): Promise<HistoryEntry[]> {
    return this.guard(async () => {
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
    return this.guard(async () => {
      const stack = await this.selectOrNull(name);
      if (!stack) return null;
      const out = await stack.outputs();
      const flat = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
      const parsed = StackOutputsSchema.safeParse(flat);
      return parsed.success ? parsed.data : null;
    });
  }

  async drift(name: string): Promise<DriftReport | null> {
    return this.guard(async () => {
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

  async cancel(name: string): Promise<void> {
    return this.guard(async () => {
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
   * Writes the spec into stacks/Pulumi.<stack>.yaml. The user's password is generated once, on the
   * stack's first update, and kept only as an encrypted secret in that same file.
   */
  private async writeConfig(name: string, spec: StackChange["spec"]): Promise<Stack> {
    const stack = await this.stack(name, true);
    const config = await stack.getAllConfig();
    const values: Record<string, { value: string; secret?: boolean }> = {
      "tenant:spec": { value: JSON.stringify(spec) },
    };
    if (!config["tenant:password"]) values["tenant:password"] = { value: generatePassword(), secret: true };
    await stack.setAllConfig(values);
    return stack;
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof EngineFailure) throw e;
      const message = this.opts.redact(conciseError(e instanceof Error ? e.message : String(e)));
      if (e instanceof ConcurrentUpdateError || /currently locked/.test(message)) {
        throw new EngineFailure(`the stack is locked by another update: ${message}`, true, lockOwnerOf(e instanceof Error ? e.message : String(e)));
      }
      if (e instanceof CommandError) throw new EngineFailure(message, isTransientEngineError(message));
      throw new EngineFailure(message, isTransientEngineError(message));
    }
  }
}

/** 24 random bytes, URL-safe: ~190 bits, accepted by Keystone's default password rules. */
export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}

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
