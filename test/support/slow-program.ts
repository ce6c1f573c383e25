/**
 * A Pulumi program for the real CLI with no provider (none can be built here): it declares nothing but
 * the stack, and holds its update open until the file `<SLOW_PROGRAM_RELEASE>-<stack>` exists, so that a
 * test can act while a real `pulumi up` runs (its lock file written, its process alive). Run inline by the
 * engine host (PulumiEngineOptions.inlineProgram).
 */
import { existsSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";

export async function program(): Promise<Record<string, unknown>> {
  const release = `${process.env.SLOW_PROGRAM_RELEASE ?? "/nonexistent"}-${pulumi.getStack()}`;
  const deadline = Date.now() + 300_000;
  while (!existsSync(release) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // A tenant's outputs in shape (ids made up: no provider), the password a secret as the real program's.
  const stack = pulumi.getStack();
  const password = new pulumi.Config("tenant").requireSecret("password");
  return { projectId: `project-of-${stack}`, userId: `user-of-${stack}`, userName: stack, authUrl: "http://127.0.0.1:5000/v3", region: "RegionOne", domainId: "default", password };
}
