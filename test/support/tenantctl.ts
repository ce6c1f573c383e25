import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { OPERATOR_TOKEN } from "./harness.js";

export type TenantctlRun = { status: number; stdout: string; stderr: string };

/**
 * Runs tenantctl as an operator would (a child process, async: the service is in the test's process),
 * against the service at `url()` with the operator token and a data directory of its own, removed after
 * the calling test file (call it at the file's top level).
 */
export function tenantctlAt(url: () => string) {
  const dataDir = mkdtempSync(join(tmpdir(), "tenantctl-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const run = (args: string[], env: Record<string, string> = {}): Promise<TenantctlRun> =>
    new Promise((resolve) => {
      execFile(
        process.execPath, ["--import", "tsx", "src/cli.ts", ...args],
        { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir, TENANTCTL_URL: url(), OPERATOR_TOKEN, ...env } },
        (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  return { run, dataDir };
}
