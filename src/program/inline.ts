/**
 * The same program for the Automation API's inline mode (PULUMI_PROGRAM=inline): the engine host runs it
 * through the SDK's own language runtime, so the CLI needs no pulumi-language-nodejs beside it. The stack
 * outputs are the returned object's fields, as main.ts's exports are.
 */
import { tenantStack } from "./tenant-stack.js";

export async function program(): Promise<Record<string, unknown>> {
  return tenantStack();
}
