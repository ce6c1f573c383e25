/**
 * The real engine's own cost per update: N stacks updated through the engine host (the real PulumiEngine,
 * the Automation API, the real `pulumi` CLI built by scripts/pulumi-toolchain.sh) at 1, 2 and 4 at once.
 * The program runs inline and declares no OpenStack resource (the provider cannot be built here: see the
 * README), so this is everything an update costs but the provider's calls: the CLI invocations an update
 * makes (each named with its count and time, from a timing shim first on PATH), the CLI's start (a
 * `pulumi version` alone), the engine host's and the `pulumi` processes' peak memory. Prints figures;
 * asserts nothing.
 *   Usage: npx tsx bench/real-engine.ts [--n 20] [--concurrency 1,2,4]
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { foldEvent } from "../src/domain/subscription.js";
import { tenantSpecOf } from "../src/domain/tenant-spec.js";
import { EngineHostClient } from "../src/provisioning/engine-host.js";
import { event } from "../test/support/events.js";
import { SETTINGS } from "../test/support/settings.js";

const { values } = parseArgs({ options: { n: { type: "string", default: "20" }, concurrency: { type: "string", default: "1,2,4" } } });
const N = Number(values.n);
const LEVELS = values.concurrency.split(",").map(Number);

const bin = execFileSync("bash", ["scripts/pulumi-toolchain.sh"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() ?? "";
const root = mkdtempSync(join(tmpdir(), "bench-real-engine-"));
const shimDir = join(root, "shim");
const timings = join(root, "timings.tsv");
execFileSync("mkdir", ["-p", shimDir, join(root, "work"), join(root, "backend")]);
// The shim times each CLI invocation (start, end in ms, first two arguments) and its peak RSS (GNU time is
// not on every machine: /proc's VmHWM of the real process, read as it ends, via a wait loop).
writeFileSync(
  join(shimDir, "pulumi"),
  `#!/bin/bash
s=$(date +%s%3N)
"${bin}/pulumi" "$@" & p=$!
hwm=0
while kill -0 $p 2>/dev/null; do h=$(sed -n 's/^VmHWM:[[:space:]]*\\([0-9]*\\).*/\\1/p' /proc/$p/status 2>/dev/null); [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h; sleep 0.05; done
wait $p; rc=$?
printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$s" "$(date +%s%3N)" "$1 $2" "$hwm" "$rc" >> "${timings}"
exit $rc
`,
);
chmodSync(join(shimDir, "pulumi"), 0o755);
writeFileSync(join(root, "work", "Pulumi.yaml"), "name: openstack-tenants\nruntime: nodejs\n");

const env = { PATH: `${shimDir}:${bin}:${process.env.PATH}`, HOME: root, PULUMI_HOME: join(root, "pulumi-home"), PULUMI_SKIP_UPDATE_CHECK: "true", SLOW_PROGRAM_RELEASE: join(root, "go") };
// slow-program.ts waits for `<release>-<stack>`; these exist before each update, so it returns at once.
const spec = (id: string) => tenantSpecOf(foldEvent(null, event(id, "subscription.created")).state as never, SETTINGS);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const hwmOf = (pid: number | undefined) => {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};

const versionMs: number[] = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  execFileSync(`${bin}/pulumi`, ["version"], { env: { ...process.env, ...env } });
  versionMs.push(performance.now() - t);
}
console.log(`pulumi version (the CLI's start alone): p50 ${pct(versionMs, 50).toFixed(0)} ms over 5`);

for (const level of LEVELS) {
  writeFileSync(timings, "");
  const host = new EngineHostClient({
    engine: { workDir: join(root, "work"), backendUrl: pathToFileURL(join(root, "backend")).href, passphrase: "bench-passphrase-0123", openstackEnv: {}, secrets: [], inlineProgram: pathToFileURL(resolve("test/support/slow-program.ts")).href },
    env,
  });
  await host.check(); // the host started: its start is not an update's cost
  const ids = Array.from({ length: N }, (_, i) => `c${level}x${i}`);
  for (const id of ids) writeFileSync(`${env.SLOW_PROGRAM_RELEASE}-sub-${id}`, "");
  const durations: number[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: level }, async () => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        const t = performance.now();
        await host.up({ stack: `sub-${id}`, spec: spec(id), password: "bench-password-0123456789", message: `bench ${id}` });
        durations.push(performance.now() - t);
      }
    }),
  );
  const wallS = (performance.now() - started) / 1000;
  const hostPeak = hwmOf(host.pid);
  await host.close();
  const calls = readFileSync(timings, "utf8").trim().split("\n").map((l) => l.split("\t")).map(([s, e, what, hwm]) => ({ ms: Number(e) - Number(s), what: what ?? "", hwmMiB: Number(hwm) / 1024 }));
  const byCommand = new Map<string, number[]>();
  for (const c of calls) byCommand.set(c.what, [...(byCommand.get(c.what) ?? []), c.ms]);
  console.log(
    `\nconcurrency ${level}: ${N} updates in ${wallS.toFixed(1)} s = ${((N / wallS) * 60).toFixed(1)} per minute; an update p50 ${(pct(durations, 50) / 1000).toFixed(2)} s, p90 ${(pct(durations, 90) / 1000).toFixed(2)} s, max ${(Math.max(...durations) / 1000).toFixed(2)} s`,
  );
  console.log(`  CLI invocations per update: ${(calls.length / N).toFixed(1)}; engine host peak ${hostPeak.toFixed(0)} MiB; a pulumi process's peak: p50 ${pct(calls.map((c) => c.hwmMiB), 50).toFixed(0)} MiB, max ${Math.max(...calls.map((c) => c.hwmMiB)).toFixed(0)} MiB`);
  for (const [what, ms] of [...byCommand.entries()].sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0))) {
    console.log(`  pulumi ${what.padEnd(22)} x${String(ms.length).padStart(3)}  p50 ${pct(ms, 50).toFixed(0).padStart(5)} ms  total ${(ms.reduce((x, y) => x + y, 0) / 1000).toFixed(1).padStart(6)} s`);
  }
}
console.log(`\n(the stacks: ${readdirSync(join(root, "backend", ".pulumi", "stacks", "openstack-tenants")).length} in the file backend)`);
rmSync(root, { recursive: true, force: true });
