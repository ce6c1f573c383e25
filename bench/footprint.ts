/**
 * Resident memory of the real service (`tenantctl serve`, embedded PGlite), at its first start on an empty
 * data directory and at a restart on the same directory. Prints figures; asserts nothing.
 *   - VmRSS: resident once the service answers /healthz and has settled; VmHWM: its peak so far
 *     (Linux `/proc/<pid>/status`, so the figures are the kernel's, not Node's estimate);
 *   - the engine host (the child process that loads @pulumi/pulumi and runs the Automation API; started by
 *     the health check at start, ended after a minute without engine calls) separately, and the sum;
 *   - with `--webhooks N`, N events are taken in after each start and the figures read again;
 *   - the peak of PGlite's initdb alone, in the child process that now runs it: what a first start kept
 *     resident when initdb ran in the service process (before issue 16's item 5).
 *   Usage: npx tsx bench/footprint.ts [--webhooks 200] [--settle-ms 2000]
 * Before issue 16's item 5 (commit 3fefb73) this printed: first start rss 926 MiB (peak 996), restart
 * 532 MiB: initdb ran in the service process and its peak stayed resident. With initdb in a child but
 * before the engine host (commit 01c0849): first start 397-403 MiB, restart 408 MiB, all in the service
 * (`tenantctl serve` loaded all of @pulumi/pulumi and @pulumi/openstack). With the engine host (2 cores at
 * a load of 8-13): service 310-313 MiB at first start, 294-335 at a restart; engine host 174-189 MiB
 * while it runs (it ends after a minute without engine calls).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { signWebhook } from "../src/domain/webhook-signature.js";
import { initialiseInChild } from "../src/store/pglite-init.js";

const { values } = parseArgs({ options: { webhooks: { type: "string", default: "0" }, "settle-ms": { type: "string", default: "2000" } } });
const WEBHOOKS = Number(values.webhooks);
const SETTLE_MS = Number(values["settle-ms"]);
const SECRET = "bench-footprint-secret-0123456789";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });

/** The service's engine host (src/provisioning/engine-host.ts): its child running engine-host-child. */
function engineHostOf(pid: number): number | undefined {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${d}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]);
      if (ppid === pid && readFileSync(`/proc/${d}/cmdline`, "utf8").includes("engine-host-child")) return Number(d);
    } catch {
      // it ended while we looked
    }
  }
  return undefined;
}

/** The service's figures and, separately, its engine host's (the SDK lives there), and their sum. */
function figuresOf(pid: number): string {
  const m = memoryOf(pid);
  const hostPid = engineHostOf(pid);
  const h = hostPid === undefined ? undefined : memoryOf(hostPid);
  const host = h ? `engine host rss ${f(h.rss)} MiB (peak ${f(h.peak)}), total ${f(m.rss + h.rss)} MiB` : "no engine host";
  return `service rss ${f(m.rss)} MiB, peak ${f(m.peak)} MiB; ${host}`;
}

/** Kernel figures of a live process, in MiB. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

async function until(ok: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The service as an operator runs it (node with tsx's loader, so the pid measured is the service's own). */
async function start(dataDir: string): Promise<{ child: ChildProcess; url: string; startMs: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(root, "src", "cli.ts"), "serve"], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", WEBHOOK_SECRET: SECRET, LOG_LEVEL: "error" },
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/healthz`)).ok, "the service to answer /healthz");
  return { child, url, startMs: performance.now() - t0 };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

async function takeWebhooks(url: string, n: number, offset: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const raw = JSON.stringify({
      id: `fp-${offset + i}`, type: "subscription.created", occurredAt: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
      subscription: { id: `fp-${offset + i}`, customer: { id: "c-1", name: "Bench", email: "b@example.com" }, plan: { model: "prepaid", cores: 1, ramGb: 2, diskGb: 20, floatingIps: 1 } },
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await fetch(`${url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(SECRET, ts, raw) } });
    await res.arrayBuffer();
    if (res.status >= 300) throw new Error(`webhook answered ${res.status}`);
  }
}

const dataDir = mkdtempSync(join(tmpdir(), "bench-footprint-"));
const f = (x: number) => x.toFixed(0).padStart(4);
try {
  for (const [i, label] of ["first start (empty data dir)", "restart (same data dir)   "].entries()) {
    const svc = await start(dataDir);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    let line = `${label}: ${figuresOf(svc.child.pid!)}, ready in ${(svc.startMs / 1000).toFixed(1)} s`;
    if (WEBHOOKS > 0) {
      await takeWebhooks(svc.url, WEBHOOKS, i * WEBHOOKS);
      line += ` | after ${WEBHOOKS} webhooks: ${figuresOf(svc.child.pid!)}`;
    }
    console.log(line);
    await stop(svc.child);
  }
  const init = await initialiseInChild(join(dataDir, "initdb-alone"));
  console.log(`PGlite initdb alone (the child that runs it): peak ${f(init.maxRssKb / 1024)} MiB`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
