import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { EngineCheck } from "./engine.js";

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

/**
 * `base` (asked on disk at every call) plus what the engine's last check found blocking every update: a
 * provider plugin not installed, a missing language host. The check itself is slow (`pulumi plugin ls` in
 * the engine host), so its last result is used; while it blocks, each ask starts a new one (`recheck`,
 * at most once a minute by its caller's cache), so purchases waiting for a `pulumi plugin install` go on
 * at a scan after it. While nothing blocks the engine host is left to idle (the health check refreshes).
 */
export function withEngineCheck(base: () => string[], recheck: () => void): { readiness: () => string[]; seen: (check: EngineCheck) => void } {
  let blocking: string[] = [];
  return {
    seen: (check) => {
      blocking = check.blocking;
    },
    readiness: () => {
      if (blocking.length > 0) recheck();
      return [...base(), ...blocking];
    },
  };
}
