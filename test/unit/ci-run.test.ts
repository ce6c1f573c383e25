import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// `.ci/run` runs the README's test command and then judges vitest's own JSON report (issue 31: a landing's CI
// run was recorded as having executed no test). The report's fields are vitest's JSON reporter's
// (vitest/node: JsonTestResults: numPassedTests, numFailedTests, numPendingTests, numTodoTests, success).
const root = new URL("../../", import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "ci-totals-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function totals(report: Record<string, unknown> | undefined): { status: number | null; lastLine: string } {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  if (report) writeFileSync(path, JSON.stringify(report));
  const run = spawnSync(process.execPath, [".ci/test-totals.mjs", path], { cwd: root, encoding: "utf8" });
  const lines = run.stdout.trimEnd().split("\n");
  return { status: run.status, lastLine: lines[lines.length - 1] ?? "" };
}

const report = (passed: number, failed: number, pending = 0) => ({
  numTotalTests: passed + failed + pending,
  numPassedTests: passed,
  numFailedTests: failed,
  numPendingTests: pending,
  numTodoTests: 0,
  numFailedTestSuites: failed > 0 ? 1 : 0,
  success: failed === 0,
});

describe("CI's verdict on a test run", () => {
  it("fails a run in which vitest ran no test, and says so in its closing line", () => {
    expect(totals(report(0, 0))).toEqual({ status: 1, lastLine: "0 passed, 0 failed" });
    expect(totals(report(0, 0, 12))).toEqual({ status: 1, lastLine: "0 passed, 0 failed, 12 skipped" });
  });

  it("fails a run with a failed test or without any report at all", () => {
    expect(totals(report(410, 2))).toEqual({ status: 1, lastLine: "410 passed, 2 failed" });
    expect(totals(undefined)).toEqual({ status: 1, lastLine: "0 passed, 0 failed" });
  });

  it("passes a run whose tests all passed, printing the totals alone on the last line", () => {
    expect(totals(report(1234, 0, 3))).toEqual({ status: 0, lastLine: "1234 passed, 0 failed, 3 skipped" });
  });

  it("reads the report that `npm test` writes, from a path git ignores, after running the README's command", () => {
    const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { scripts: { test: string } };
    expect(pkg.scripts.test).toContain("--reporter=json --outputFile.json=test-artifacts/vitest-report.json");
    const run = readFileSync(new URL(".ci/run", root), "utf8");
    expect(run).toMatch(/npm ci[^\n]*\n[\s\S]*npm test/);
    expect(run).toContain("node .ci/test-totals.mjs test-artifacts/vitest-report.json");
    expect(readFileSync(new URL(".gitignore", root), "utf8")).toMatch(/^test-artifacts\/$/m);
  });
});
