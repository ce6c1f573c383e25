import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import { signWebhook } from "../../src/domain/webhook-signature.js";
import type { Plan } from "../../src/domain/plan.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { readAdminCredentials } from "../../src/openstack/credentials.js";
import { event } from "../../test/support/events.js";

/**
 * What the real-engine benchmarks share: the real toolchain and the test cloud (started when not running),
 * timing shims for `pulumi` and the provider, the service as a child process over them, signed purchases,
 * and the floor: the same tenant made with OpenStack's REST APIs.
 */
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() ?? "";
export const bin = sh("bash", ["scripts/pulumi-toolchain.sh"]);
export const cloudEnv: Record<string, string> = Object.fromEntries(
  readFileSync(sh("bash", ["scripts/testcloud.sh", "up"]), "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);
const read = readAdminCredentials(cloudEnv);
if (!read.ok) throw new Error(read.problem);
export const adminCredentials = read.credentials;

export const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
export const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const PLAN: Plan = { model: "prepaid", cores: 2, ramGb: 4, diskGb: 50, floatingIps: 1 };

// ---- the floor: the same tenant through OpenStack's REST APIs, nothing else ----
const Any = z.unknown();
const Created = z.record(z.string(), z.object({ id: z.string() }));
/** Token, project, user, member role, three quota sets: the milliseconds it took (then it is removed). */
export async function restTenant(name: string): Promise<number> {
  const t = performance.now();
  const cloud = new CloudClient(adminCredentials); // a new session: its admin token is part of the cost
  const project = (await cloud.request("identity", "POST", "/projects", Created, { project: { name, domain_id: "default", enabled: true } }))?.project?.id as string;
  const user = (await cloud.request("identity", "POST", "/users", Created, { user: { name, domain_id: "default", default_project_id: project, password: "Bench-Pw-0123456789", enabled: true } }))?.user?.id as string;
  const roles = await cloud.request("identity", "GET", "/roles?name=member", z.object({ roles: z.array(z.object({ id: z.string() })) }));
  await cloud.request("identity", "PUT", `/projects/${project}/users/${user}/roles/${roles?.roles[0]?.id}`, Any);
  await cloud.request("compute", "PUT", `/os-quota-sets/${project}`, Any, { quota_set: { cores: 2, ram: 4096, instances: 2 } });
  await cloud.request("block-storage", "PUT", `/os-quota-sets/${project}`, Any, { quota_set: { gigabytes: 50, volumes: 10 } });
  await cloud.request("network", "PUT", `/v2.0/quotas/${project}`, Any, { quota: { floatingip: 1 } });
  const ms = performance.now() - t;
  await cloud.request("identity", "DELETE", `/users/${user}`, Any);
  await cloud.request("identity", "DELETE", `/projects/${project}`, Any);
  return ms;
}

// ---- timing shims: every `pulumi` and provider start, its wall and CPU time and peak memory ----
export interface Timing { name: string; wall: number; cpu: number; rssMb: number; command: string }
export class Shims {
  readonly dir: string;
  private readonly file: string;
  constructor(root: string) {
    this.dir = join(root, "shim");
    this.file = join(root, "timings.tsv");
    mkdirSync(this.dir, { recursive: true });
    for (const name of ["pulumi", "pulumi-resource-openstack"]) {
      // GNU time's %U/%S/%M: the process's own CPU and peak RSS (a provider it started is timed by its own shim).
      writeFileSync(join(this.dir, name), `#!/bin/bash\nexec /usr/bin/time -a -o "${this.file}" -f "${name}\\t%e\\t%U\\t%S\\t%M\\t$1 $2" "${bin}/${name}" "$@"\n`);
      chmodSync(join(this.dir, name), 0o755);
    }
  }
  reset(): void {
    writeFileSync(this.file, "");
  }
  read(): Timing[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, "utf8").trim().split("\n").filter((l) => l.includes("\t")).map((l) => {
      const [name, wall, user, sys, rss, command] = l.split("\t") as [string, string, string, string, string, string];
      return { name, wall: Number(wall), cpu: Number(user) + Number(sys), rssMb: Number(rss) / 1024, command: name === "pulumi" ? command.trim() : "(provider)" };
    });
  }
}

/** CPU seconds the whole machine spent busy so far (/proc/stat's first line: all but idle and iowait). */
export function machineCpu(): number {
  const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, x, i) => (i === 3 || i === 4 ? a : a + (x ?? 0)), 0) / 100;
}

/** CPU seconds a process used so far (/proc/<pid>/stat utime+stime). */
export function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}
export const hwmMb = (pid: number) => {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};
export const childrenOf = (pid: number) =>
  readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ")[1] === String(pid);
    } catch {
      return false;
    }
  });

// ---- the service of one tree, as production runs it ----
const SECRET = "bench-webhook-secret-0123456789";
const TOKEN = "bench-operator-token-0123456789";
export class RealService {
  proc: ChildProcess | null = null;
  url = "";
  /** The service's log lines of finished operations (JSON), as they came: where an operation's time went. */
  readonly operations: Array<{ at: number; subscription: string; durationMs: number; result: string }> = [];
  constructor(private readonly o: { dir: string; workDir: string; dataDir: string; shims: Shims; env?: Record<string, string> }) {}

  async start(extra: Record<string, string> = {}): Promise<void> {
    const project = readFileSync(join(this.o.dir, "Pulumi.yaml"), "utf8").replace(/^main: (.*)$/m, (_m, main: string) => `main: ${resolve(this.o.dir, main)}`);
    mkdirSync(this.o.workDir, { recursive: true });
    writeFileSync(join(this.o.workDir, "Pulumi.yaml"), project);
    const proc = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "serve"], {
      cwd: this.o.dir,
      env: {
        ...process.env, ...cloudEnv, PATH: `${this.o.shims.dir}:${bin}:${process.env.PATH}`, PULUMI_PROGRAM: "inline", DATA_DIR: this.o.dataDir, PULUMI_WORK_DIR: this.o.workDir,
        PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: SECRET, OPERATOR_TOKEN: TOKEN, LOG_LEVEL: "info", ...this.o.env, ...extra,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.proc = proc;
    this.url = await new Promise<string>((ok, fail) => {
      createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on("line", (l) => {
        if (/"msg":"service started"/.test(l)) ok((JSON.parse(l) as { url: string }).url);
        if (/"msg":"operation"/.test(l)) {
          const o = JSON.parse(l) as { subscription: string; durationMs: number; result: string };
          this.operations.push({ at: performance.now(), subscription: o.subscription, durationMs: o.durationMs, result: o.result });
          for (const wake of this.waiting.get(o.subscription) ?? []) wake();
          this.waiting.delete(o.subscription);
        }
      });
      proc.once("exit", () => fail(new Error("the service exited before it listened")));
    });
  }

  get pid(): number {
    return this.proc?.pid as number;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    this.proc = null;
  }

  async send(id: string, type: "subscription.created" | "subscription.modified" | "subscription.cancelled", plan: Plan = PLAN): Promise<void> {
    const raw = JSON.stringify(event(id, type, { plan }));
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await fetch(`${this.url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(SECRET, ts, raw) } });
    if (res.status !== 202) throw new Error(`${type} ${id}: ${res.status} ${await res.text()}`);
  }

  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  private readonly waiting = new Map<string, Array<() => void>>();
  /** Resolves at the service's next "operation" log line for `id` (each one is written once its outcome is recorded), or after `ms`. */
  private nextOperation(id: string, ms: number): { done: Promise<void>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((wake) => {
      timer = setTimeout(wake, ms);
      this.waiting.set(id, [...(this.waiting.get(id) ?? []), wake]);
    });
    return { done, cancel: () => clearTimeout(timer) };
  }

  /**
   * Waits until the subscription applied all it was given and is in `want`. It asks the API once per
   * operation the service logs (a second at most between asks), not in a tight loop: a client polling every
   * 50 ms made each purchase cost the service ~40 subscription reads (3 queries each), which on 2 cores is
   * CPU taken from the engine being measured.
   */
  async settled(id: string, want: "ready" | "cancelled"): Promise<{ outputs: { projectId: string } | null }> {
    for (;;) {
      // Listening before asking: an operation that ends between the answer and the wait still wakes it.
      const next = this.nextOperation(id, 1000);
      const sub = await this.api<{ phase: string; generation: number; appliedGeneration: number; lastError: string | null; outputs: { projectId: string } | null }>("GET", `/v1/subscriptions/${id}`);
      if (sub.phase === want && sub.generation === sub.appliedGeneration) {
        next.cancel();
        return sub;
      }
      if (sub.phase === "failed") {
        next.cancel();
        throw new Error(`${id}: ${sub.lastError}`);
      }
      await next.done;
    }
  }

  async purchase(id: string): Promise<number> {
    const t = performance.now();
    await this.send(id, "subscription.created");
    await this.settled(id, "ready");
    return performance.now() - t;
  }
}
