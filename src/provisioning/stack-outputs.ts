import { type PulumiCommand, StackNotFoundError } from "@pulumi/pulumi/automation/index.js";
import { StackOutputs } from "../domain/lifecycle.js";
import { parseJsonOrNull, runner } from "./pulumi-cli.js";

/** readStackOutputs' answer for a stack the backend does not have (null: a stack without the tenant's outputs). */
export const NO_STACK = Symbol("no stack");

/**
 * One `pulumi stack output --json --show-secrets`: the SDK's stackOutputs runs it twice (masked, then
 * shown, to tell which are secret), which these outputs do not need.
 */
export async function readStackOutputs(cli: PulumiCommand, stack: string, o: { workDir: string; env: Record<string, string> }): Promise<StackOutputs | null | typeof NO_STACK> {
  try {
    const { stdout } = await runner(cli).run(["stack", "output", "--json", "--show-secrets", "--stack", stack], o.workDir, o.env);
    const parsed = StackOutputs.safeParse(parseJsonOrNull(stdout));
    return parsed.success ? parsed.data : null;
  } catch (e) {
    if (e instanceof StackNotFoundError) return NO_STACK;
    throw e;
  }
}

/**
 * The stack's outputs as its resource-outputs event carries them, secrets masked
 * (`{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}`, the
 * engine's secret signature): each masked output is taken from `secrets`, the values the caller set.
 */
export function outputsOf(out: Record<string, unknown> | undefined, secrets: Record<string, string>): StackOutputs | null {
  if (!out) return null;
  const isMasked = (v: unknown) => typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
  const parsed = StackOutputs.safeParse(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, isMasked(v) ? secrets[k] : v])));
  return parsed.success ? parsed.data : null;
}
// sdk/go/common/resource/sig: the key and value that mark a secret in the engine's serialized properties.
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
