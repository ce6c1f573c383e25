/**
 * Purchase to ready through the real engine, against the floor: the service (a child process, as in
 * production) with the real `pulumi` CLI and the OpenStack provider scripts/pulumi-toolchain.sh builds, the
 * program inline, on the test cloud; beside it, in the same run, the same tenant made with direct REST calls
 * (an admin token, project, user, member role, three quota sets): what the cloud itself costs.
 *
 * Prints, per tree measured (`--tree label=dir`, e.g. the tree before a change checked out beside this one,
 * so before/after share one run): a signed purchase to ready p50/p90 sequentially, N at once (wall time until
 * the last is ready), the ratio of each to the REST floor, the CLI invocations per update (each command's
 * count, wall and CPU time from a timing shim first on PATH), the CPU-seconds per update of the service, its
 * engine host, `pulumi` and the provider, and their peak memory. Asserts nothing.
 * `--concurrency 1,2,4` measures the service once per RECONCILE_CONCURRENCY given (each tree with each),
 * so the choice by cores compares within one run; without it, the service's default.
 *   Usage: npx tsx bench/real-engine.ts [--n 5] [--at-once 4,8] [--concurrency 1,2,4] [--tree before=/path]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { childrenOf, cpuOf, hwmMb, machineCpu, pct, RealService, restTenant, secs, Shims, type Timing } from "./support/real-service.js";

const { values } = parseArgs({
  options: { n: { type: "string", default: "5" }, "at-once": { type: "string", default: "4,8" }, concurrency: { type: "string", default: "" }, tree: { type: "string", multiple: true, default: [] } },
});
const N = Number(values.n);
const AT_ONCE = values["at-once"].split(",").filter(Boolean).map(Number);
const TREES: Array<[string, string]> = [["this tree", resolve(".")], ...values.tree.map((t) => t.split("=") as [string, string])];
const CONCURRENCIES: Array<string | null> = values.concurrency ? values.concurrency.split(",").filter(Boolean) : [null];
const RUNS = TREES.flatMap(([label, dir]) => CONCURRENCIES.map((c) => ({ label: c ? `${label}, RECONCILE_CONCURRENCY=${c}` : label, dir, concurrency: c })));
const run = Date.now().toString(36);
const root = mkdtempSync(join(tmpdir(), "bench-real-engine-"));
const shims = new Shims(root);

for (const [index, { label, dir, concurrency }] of RUNS.entries()) {
  const svc = new RealService({ dir, workDir: join(root, `work-${index}`), dataDir: join(root, `data-${index}`), shims, env: concurrency ? { RECONCILE_CONCURRENCY: concurrency } : {} });
  await svc.start();
  const ids: string[] = [`bw${run}t${index}`];
  // A first purchase warms the engine host (its start is not an update's cost).
  await svc.purchase(ids[0] as string);

  shims.reset();
  const hostsBefore = childrenOf(svc.pid);
  const cpu0 = { service: cpuOf(svc.pid), host: hostsBefore.reduce((a, p) => a + cpuOf(p), 0) };
  const sequential: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < N; i++) {
    const id = `bs${run}t${index}x${i}`;
    ids.push(id);
    sequential.push(await svc.purchase(id));
    floor.push(await restTenant(`bench-floor-${run}-${index}-${i}`));
  }
  const perUpdate = shims.read();
  const hosts = childrenOf(svc.pid);
  const cpu1 = { service: cpuOf(svc.pid), host: hosts.reduce((a, p) => a + cpuOf(p), 0) };
  const floor50 = pct(floor, 50);
  console.log(`\n== ${label} (${dir}) ==`);
  console.log(`REST floor (token, project, user, role, 3 quota sets): p50 ${secs(floor50)}, p90 ${secs(pct(floor, 90))} over ${N}`);
  console.log(`purchase -> ready, one at a time: p50 ${secs(pct(sequential, 50))} (${(pct(sequential, 50) / floor50).toFixed(1)}x the floor), p90 ${secs(pct(sequential, 90))}, max ${secs(Math.max(...sequential))}`);
  const byCommand = new Map<string, Timing[]>();
  for (const t of perUpdate) byCommand.set(t.command, [...(byCommand.get(t.command) ?? []), t]);
  console.log(`CLI invocations per update: ${(perUpdate.filter((t) => t.name === "pulumi").length / N).toFixed(1)}; provider starts per update: ${(perUpdate.filter((t) => t.name !== "pulumi").length / N).toFixed(1)}`);
  for (const [command, ts] of byCommand) {
    const mean = (f: (t: Timing) => number) => secs((ts.reduce((a, t) => a + f(t), 0) * 1000) / ts.length);
    console.log(`  ${command.padEnd(28)} ${String(ts.length).padStart(3)}x  wall ${mean((t) => t.wall)}  cpu ${mean((t) => t.cpu)}  peak ${Math.max(...ts.map((t) => t.rssMb)).toFixed(0)} MiB`);
  }
  const cpuOfKind = (pulumi: boolean) => perUpdate.filter((t) => (t.name === "pulumi") === pulumi).reduce((a, t) => a + t.cpu, 0) / N;
  console.log(`CPU-seconds per update: service ${((cpu1.service - cpu0.service) / N).toFixed(2)}, engine host ${((cpu1.host - cpu0.host) / N).toFixed(2)}, pulumi ${cpuOfKind(true).toFixed(2)}, provider ${cpuOfKind(false).toFixed(2)}`);
  const peak = (pulumi: boolean) => Math.max(0, ...perUpdate.filter((t) => (t.name === "pulumi") === pulumi).map((t) => t.rssMb)).toFixed(0);
  console.log(`peak memory: service ${hwmMb(svc.pid).toFixed(0)} MiB, engine host ${Math.max(0, ...hosts.map(hwmMb)).toFixed(0)} MiB, pulumi ${peak(true)} MiB, provider ${peak(false)} MiB`);

  for (const k of AT_ONCE) {
    const batch = Array.from({ length: k }, (_, i) => `bk${run}t${index}x${k}x${i}`);
    ids.push(...batch);
    shims.reset();
    const ours0 = cpuOf(svc.pid) + childrenOf(svc.pid).reduce((a, p) => a + cpuOf(p), 0);
    const machine0 = machineCpu();
    const t = performance.now();
    await Promise.all(batch.map((id) => svc.purchase(id)));
    const wall = performance.now() - t;
    // Ours: the service, its engine host and every pulumi and provider run; the rest of the machine's busy
    // time is the cloud's (Keystone, Nova, Cinder, Neutron, PostgreSQL) and whatever else runs.
    const ours = cpuOf(svc.pid) + childrenOf(svc.pid).reduce((a, p) => a + cpuOf(p), 0) - ours0 + shims.read().reduce((a, x) => a + x.cpu, 0);
    const busy = machineCpu() - machine0;
    const restM0 = machineCpu();
    const restT = performance.now();
    await Promise.all(batch.map((_, i) => restTenant(`bench-floor-${run}-${index}-k${k}-${i}`)));
    const restWall = performance.now() - restT;
    console.log(`${k} purchases at once: all ready in ${secs(wall)} = ${(wall / floor50).toFixed(1)}x one REST floor, ${(wall / restWall).toFixed(1)}x ${k} REST tenants at once (${secs(restWall)})`);
    console.log(`  CPU: machine busy ${busy.toFixed(1)} s of ${((availableParallelism() * wall) / 1000).toFixed(1)} s (${availableParallelism()} cores): ours ${ours.toFixed(1)} s (${(ours / k).toFixed(2)} s a tenant), the cloud and the rest ${(busy - ours).toFixed(1)} s; the ${k} REST tenants: machine busy ${(machineCpu() - restM0).toFixed(1)} s`);
  }

  for (const id of ids) await svc.send(id, "subscription.cancelled");
  for (const id of ids) await svc.settled(id, "cancelled");
  await svc.stop();
}
rmSync(root, { recursive: true, force: true });
