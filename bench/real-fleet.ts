/**
 * A fleet through the real engine: N tenants (default 200) bought by signed purchases on the service (a
 * child process, the real `pulumi` CLI and the provider scripts/pulumi-toolchain.sh builds, the program inline,
 * the test cloud), a quota-defaults change rolled out to all of them in waves, a drift sweep of the fleet in
 * sync (the engine is asked nothing), 10 quotas changed behind the service's back found and repaired, and all
 * N cancelled. For each phase: wall time, tenants per minute, the ratio to the REST floor (the same tenants
 * made one after another with OpenStack's REST APIs, measured in the same run), the CLI starts, and the
 * service's, engine host's and CLI's memory. Asserts nothing.
 *   Usage: npx tsx bench/real-fleet.ts [--n 200] [--concurrency 2]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { DEFAULT_QUOTA_DEFAULTS } from "../src/domain/quota.js";
import { CloudClient } from "../src/openstack/cloud-client.js";
import { adminCredentials, childrenOf, hwmMb, pct, RealService, restTenant, secs, Shims } from "./support/real-service.js";

const { values } = parseArgs({ options: { n: { type: "string", default: "200" }, concurrency: { type: "string", default: "" } } });
const N = Number(values.n);
const run = Date.now().toString(36);
const root = mkdtempSync(join(tmpdir(), "bench-real-fleet-"));
const shims = new Shims(root);
const svc = new RealService({ dir: resolve("."), workDir: join(root, "work"), dataDir: join(root, "data"), shims, env: values.concurrency ? { RECONCILE_CONCURRENCY: values.concurrency } : {} });

const floor: number[] = [];
for (let i = 0; i < 5; i++) floor.push(await restTenant(`fleet-floor-${run}-${i}`));
const floor50 = pct(floor, 50);
console.log(`REST floor: one tenant p50 ${secs(floor50)}; ${N} one after another would take ${secs(N * floor50)}`);

let hostPeak = 0;
const phase = async (name: string, work: () => Promise<void>) => {
  shims.reset();
  const t = performance.now();
  await work();
  const wall = performance.now() - t;
  const timings = shims.read();
  for (const p of childrenOf(svc.pid)) hostPeak = Math.max(hostPeak, hwmMb(p));
  const cli = timings.filter((x) => x.name === "pulumi");
  console.log(
    `${name.padEnd(34)} ${secs(wall).padStart(10)}  ${((N / wall) * 60_000).toFixed(1).padStart(6)} tenants/min  ${(wall / (N * floor50)).toFixed(1).padStart(5)}x the floor  ` +
      `${String(cli.length).padStart(4)} CLI starts  memory: service ${hwmMb(svc.pid).toFixed(0)} MiB, host ${hostPeak.toFixed(0)} MiB, pulumi ${Math.max(0, ...cli.map((x) => x.rssMb)).toFixed(0)} MiB`,
  );
};

await svc.start();
const ids = Array.from({ length: N }, (_, i) => `f${run}x${i}`);
const projects = new Map<string, string>();
await phase(`${N} purchases`, async () => {
  for (const id of ids) await svc.send(id, "subscription.created");
  for (const id of ids) projects.set(id, (await svc.settled(id, "ready")).outputs?.projectId as string);
});

// A change of what plans do not decide, then a restart with it: every ready stack differs from its declaration.
const defaults = join(root, "quota-defaults.json");
writeFileSync(defaults, JSON.stringify({ ...DEFAULT_QUOTA_DEFAULTS, compute: { ...DEFAULT_QUOTA_DEFAULTS.compute, keyPairs: 50 } }));
await svc.stop();
await svc.start({ QUOTA_DEFAULTS_FILE: defaults });
await phase("rollout in waves 1%,10%,100%", async () => {
  const { id } = await svc.api<{ id: number }>("POST", "/v1/rollouts", { waves: ["1%", "10%", "100%"], maxFailures: 0, pauseSeconds: 0 });
  for (;;) {
    const r = await svc.api<{ state: string; reason: string | null }>("GET", `/v1/rollouts/${id}`);
    if (r.state === "done") return;
    if (r.state !== "running" && r.state !== "pausing") throw new Error(`rollout ${r.state}: ${r.reason}`);
    await new Promise((res) => setTimeout(res, 500));
  }
});

const Sweep = z.object({ results: z.array(z.object({ subscription: z.string(), state: z.string().optional() })) });
await phase("drift sweep, all in sync", async () => {
  const sweep = Sweep.parse(await svc.api("POST", "/v1/drift/checks"));
  console.log(`  ${sweep.results.filter((r) => r.state === "in_sync").length} of ${sweep.results.length} in sync`);
});

const cloud = new CloudClient(adminCredentials);
const drifted = ids.slice(0, 10);
for (const id of drifted) await cloud.request("compute", "PUT", `/os-quota-sets/${projects.get(id)}`, z.unknown(), { quota_set: { cores: 99 } });
await phase("10 changed by hand: found, repaired", async () => {
  const sweep = Sweep.parse(await svc.api("POST", "/v1/drift/checks"));
  const found = sweep.results.filter((r) => r.state === "drifted").map((r) => r.subscription);
  console.log(`  found drifted: ${found.length}`);
  for (const id of found) await svc.api("POST", `/v1/subscriptions/${id}/drift/repair`);
  for (const id of found) await svc.settled(id, "ready");
});

await phase(`${N} cancellations`, async () => {
  for (const id of ids) await svc.send(id, "subscription.cancelled");
  for (const id of ids) await svc.settled(id, "cancelled");
});
await svc.stop();
rmSync(root, { recursive: true, force: true });
