import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { PulumiCommand } from "@pulumi/pulumi/automation/index.js";
import { z } from "zod";
import { EngineFailure, type EngineCheck } from "./engine.js";
import { conciseError } from "./failure-classification.js";
import { describeProviderVersion } from "./provider-build.js";

/**
 * The Pulumi toolchain the engine runs (pulumi-engine.ts): the CLI on PATH, whether it can be used, the
 * language host and provider plugin beside it, and the CLI commands the engine runs itself.
 */

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

/** The Pulumi CLI on PATH, at least MIN_CLI_VERSION; installing it is the operator's job. */
export function usableCli(): Promise<PulumiCommand> {
  return PulumiCommand.get()
    .catch((e: unknown) => {
      throw cliUnusable(e);
    })
    .then((c) => {
      const version = c.version?.toString() ?? "unknown";
      if (!atLeast(version, MIN_CLI_VERSION)) throw tooOld(version);
      return c;
    });
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

export class CliTooOld extends EngineFailure {
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

/**
 * What the service needs beside a usable CLI before it can update a stack: the OpenStack provider plugin,
 * installed (`pulumi plugin install`) or on PATH (the CLI takes an ambient `pulumi-resource-openstack` first:
 * sdk/go/common/workspace/plugins.go getPluginInfoAndPath), and the Node.js language host unless the program
 * runs inline. Without the plugin the first `up` would try to download it (which fails offline, slowly); the
 * engine's environment turns that download off, so the check is what tells the operator.
 * `env` is the environment of a CLI run the Automation API does not start, as it is at each run.
 */
export async function toolchainCheck(cli: PulumiCommand, o: { workDir: string; inlineProgram: boolean; env: () => NodeJS.ProcessEnv }): Promise<EngineCheck> {
  const problems: string[] = [];
  const blocking: string[] = [];
  const { version } = PROVIDER_PLUGIN;
  const listed = await runCli(cli.command, ["plugin", "ls", "--json"], { cwd: o.workDir, env: o.env() }).catch(() => "");
  const installed = PluginList.safeParse(parseJsonOrNull(listed));
  const haveInstalled = installed.success && installed.data.some((p) => p.kind === "resource" && p.name === PROVIDER_PLUGIN.name && atLeast(p.version, version));
  const path = o.env().PATH;
  if (!o.inlineProgram && !onPath("pulumi-language-nodejs", path) && !onPath("pulumi-language-nodejs", dirname(cli.command))) {
    problems.push("the Node.js language host pulumi-language-nodejs is not beside the pulumi CLI (the official CLI archive has it): install it, or set PULUMI_PROGRAM=inline");
    blocking.push(problems[problems.length - 1] as string);
  }
  const provider = await providerInUse(path, haveInstalled, o);
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
async function providerInUse(path: string | undefined, installed: boolean, o: { workDir: string; env: () => NodeJS.ProcessEnv }): Promise<string | undefined> {
  const file = `pulumi-resource-${PROVIDER_PLUGIN.name}`;
  const ambient = findOnPath(file, path);
  // biome-ignore lint/style/noProcessEnv: where the CLI keeps installed plugins (the same variables it reads)
  const home = o.env().PULUMI_HOME ?? join(process.env.HOME ?? "", ".pulumi");
  const binary = ambient ?? (installed ? join(home, "plugins", `resource-${PROVIDER_PLUGIN.name}-v${PROVIDER_PLUGIN.version}`, file) : undefined);
  if (!binary) return undefined;
  const printed = await runCli(binary, ["-version"], { cwd: o.workDir, env: { PATH: path ?? "" } }).catch(() => "");
  return printed ? describeProviderVersion(printed) : `the plugin at ${binary} (it did not say its version)`;
}

/** `pulumi plugin ls --json` (pkg/cmd/pulumi/plugin/plugin_list.go pluginInfoJSON): fields we read only. */
const PluginList = z.array(z.object({ name: z.string(), kind: z.string(), version: z.string() })).nullable().transform((l) => l ?? []);

/** A CLI's JSON output, or undefined when it printed something else. */
export function parseJsonOrNull(text: string): unknown {
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

/**
 * PulumiCommand.run (automation/cmd.js at v3.248.0): how LocalWorkspace runs every command (our environment
 * over the process's, failures mapped to StackNotFoundError, StackAlreadyExistsError, ConcurrentUpdateError);
 * in the SDK's JavaScript, left out of its typings.
 */
export interface CommandRunner {
  run(args: string[], cwd: string, additionalEnv: Record<string, string>): Promise<{ stdout: string; stderr: string; code: number }>;
}
export const runner = (cli: PulumiCommand) => cli as unknown as CommandRunner;
