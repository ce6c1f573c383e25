import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** Pulumi.yaml's `stackConfigDir` (sdk/go/common/workspace/project.go: relative to the project), else the project's directory. */
export interface ProjectFile {
  /** The project's name (Pulumi.yaml `name`), which the backend files its stacks under; null if it has none. */
  name: string | null;
  configDir: string;
}

export function projectFileOf(workDir: string): ProjectFile {
  const project = z.object({ name: z.string().min(1).optional(), stackConfigDir: z.string().optional() }).passthrough().safeParse(parseYaml(readFileSync(join(workDir, "Pulumi.yaml"), "utf8")));
  const data = project.success ? project.data : {};
  return { name: data.name ?? null, configDir: resolve(workDir, data.stackConfigDir ?? ".") };
}
