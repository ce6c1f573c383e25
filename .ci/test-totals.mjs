// Reads the JSON report vitest wrote during `npm test` (package.json: --reporter=json --outputFile.json=…)
// and prints its totals as the run's closing line. A run that executed no test is a failure: a recorded CI
// run once "passed" having run nothing (issue 31).
import { readFileSync } from "node:fs";

const path = process.argv[2] ?? "test-artifacts/vitest-report.json";
let report;
try {
  report = JSON.parse(readFileSync(path, "utf8"));
} catch (err) {
  console.error(`no vitest report at ${path} (did vitest run?): ${err instanceof Error ? err.message : String(err)}`);
  console.log("0 passed, 0 failed");
  process.exit(1);
}
const count = (key) => (Number.isInteger(report[key]) ? report[key] : 0);
const passed = count("numPassedTests");
const failed = count("numFailedTests");
const skipped = count("numPendingTests") + count("numTodoTests");
const ranNone = passed + failed === 0;
const failedRun = failed > 0 || count("numFailedTestSuites") > 0 || report.success === false;
if (ranNone) console.error("vitest ran no test: a run that tests nothing is no pass");
// The closing line, alone: what a reader of the CI log (or a tool) takes as the run's totals.
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(ranNone || failedRun ? 1 : 0);
