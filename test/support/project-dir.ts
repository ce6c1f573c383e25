import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The repository's Pulumi.yaml in `dir`: the CLI checks that `main` exists, so it names the program's path. */
export function writeProjectFile(dir: string): void {
  const project = readFileSync("Pulumi.yaml", "utf8").replace(/^main: (.*)$/m, (_m, main: string) => `main: ${resolve(main)}`);
  writeFileSync(join(dir, "Pulumi.yaml"), project);
}

/**
 * A Pulumi project directory of a test's own (PULUMI_WORK_DIR): the engine writes stacks/Pulumi.<stack>.yaml
 * there, never into the repository's stacks/.
 */
export function projectDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tenants-project-"));
  writeProjectFile(dir);
  return dir;
}
