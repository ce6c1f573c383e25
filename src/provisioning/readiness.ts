import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Whether an executable `pulumi` is on this PATH: what the Automation API's `PulumiCommand.get()` runs
 * when no root is given (@pulumi/pulumi automation/cmd.ts). A lookup on disk (microseconds), so it can
 * be asked before every operation and at every scan: a CLI installed while the service runs is found.
 */
export function pulumiOnPath(searchPath: string): boolean {
  return searchPath.split(delimiter).some((dir) => {
    if (dir === "") return false;
    const file = join(dir, "pulumi");
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * What the service still needs before it can provision, one line each (empty: it can): admin
 * credentials (read at start: a restart with them resumes what waits) and the pulumi CLI.
 */
export function provisioningReadiness(o: { credentialsProblem: string | null; searchPath: string }): () => string[] {
  return () => [
    ...(o.credentialsProblem ? [o.credentialsProblem] : []),
    ...(pulumiOnPath(o.searchPath) ? [] : ["the pulumi CLI is not on PATH: stacks cannot be updated"]),
  ];
}
