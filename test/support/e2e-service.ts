import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, inject } from "vitest";
import { z } from "zod";
import { signWebhook } from "../../src/domain/webhook-signature.js";
import type { MarketplaceEvent } from "../../src/domain/event.js";
import { writeProjectFile } from "./project-dir.js";
import { adminEnv, cliJson } from "./testcloud.js";

/**
 * The service as production runs it, for the e2e suite: a child process (`tenantctl serve`) over the real
 * engine (the Automation API, the `pulumi` CLI and the OpenStack provider plugin scripts/pulumi-toolchain.sh
 * built) against the test cloud. Each service has its own data directory and its own Pulumi project
 * directory (PULUMI_WORK_DIR, a copy of Pulumi.yaml): no stack config file of a test lands in the
 * repository's stacks/. The program runs inline where the Node.js language host could not be built.
 */
export const toolchain = inject("toolchain");
export const testcloud = inject("testcloud");
export const inlineProgram = toolchain.missing.some((m) => m.startsWith("pulumi-language-nodejs:"));

/** Fails the suite (never skips it) when the real engine is not there: the toolchain's own words. */
export function requireRealEngine(): void {
  if (!toolchain.bin) throw new Error(`the pulumi CLI could not be built: ${toolchain.error}`);
  if (!existsSync(join(toolchain.bin, "pulumi-resource-openstack"))) {
    throw new Error(`the OpenStack provider plugin could not be built: ${toolchain.missing.filter((m) => m.startsWith("pulumi-resource-openstack")).join("; ") || "see the toolchain's output"}`);
  }
}

export const SECRET = "e2e-webhook-secret-0123456789";
export const TOKEN = "e2e-operator-token-0123456789";
const op = { authorization: `Bearer ${TOKEN}` };

export interface SubscriptionView {
  id: string; status: string; phase: string; generation: number; appliedGeneration: number; lastError: string | null;
  outputs: { projectId: string; userId: string; userName: string } | null;
  drift: { state: string; differences?: unknown[] } | null;
}

export class E2eService {
  readonly root = mkdtempSync(join(tmpdir(), "tenants-e2e-"));
  readonly workDir = join(this.root, "work");
  readonly dataDir = join(this.root, "data");
  proc: ChildProcess | null = null;
  url = "";
  private exited: Promise<unknown> = Promise.resolve();
  private logs: string[] = [];

  constructor(private readonly extraEnv: Record<string, string> = {}) {
    mkdirSync(this.workDir, { recursive: true });
    writeProjectFile(this.workDir);
  }

  /** What the service and every CLI an operator runs next to it get: the real engine first on PATH. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env, ...testcloud, PATH: `${toolchain.bin}:${process.env.PATH}`, PULUMI_PROGRAM: inlineProgram ? "inline" : "local",
      DATA_DIR: this.dataDir, PULUMI_WORK_DIR: this.workDir, PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: SECRET, OPERATOR_TOKEN: TOKEN,
      RECONCILE_BACKOFF_MS: "2000", LOG_LEVEL: "info", ...this.extraEnv, ...extra,
    };
  }

  async start(extra: Record<string, string> = {}): Promise<void> {
    const proc = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "serve"], { env: this.env(extra), stdio: ["ignore", "ignore", "pipe"] });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once("exit", r));
    this.url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on("line", (l) => {
        this.logs.push(l);
        if (/"msg":"service started"/.test(l)) resolve((JSON.parse(l) as { url: string }).url);
      });
      void this.exited.then(() => reject(new Error(`the service exited before it listened:\n${this.logs.slice(-20).join("\n")}`)));
    });
  }

  /** Everything the service logged so far (JSON lines). */
  log(): string {
    return this.logs.join("\n");
  }

  async kill(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    this.proc?.kill(signal);
    await this.exited;
    this.proc = null;
  }

  async close(): Promise<void> {
    await this.kill();
    rmSync(this.root, { recursive: true, force: true });
  }

  /** A signed generic webhook, as the marketplace sends it. */
  async send(body: MarketplaceEvent): Promise<Response> {
    const raw = JSON.stringify(body);
    const ts = String(Math.floor(Date.now() / 1000));
    return this.request("/v1/events", { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(SECRET, ts, raw) } });
  }

  async get<T>(path: string): Promise<T> {
    const res = await this.request(path, { headers: op });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async post(path: string, body?: unknown): Promise<Response> {
    return this.request(path, { method: "POST", headers: { ...op, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  }

  /** A GET with another bearer token (a customer's credentials token). */
  fetchAs(token: string, path: string): Promise<Response> {
    return this.request(path, { headers: { authorization: `Bearer ${token}` } });
  }

  /**
   * The tests run the `openstack` CLI with spawnSync, which blocks this process's event loop for seconds:
   * undici's keep-alive timer cannot fire, and a socket the service closed after its 5 s keep-alive is
   * reused ("other side closed", before the service read a byte of the request). Sent again, on a new one.
   */
  private async request(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, init);
    } catch (e) {
      if ((e as { cause?: { code?: string } }).cause?.code !== "UND_ERR_SOCKET") throw e;
      return fetch(`${this.url}${path}`, init);
    }
  }

  subscription(id: string): Promise<SubscriptionView> {
    return this.get<SubscriptionView>(`/v1/subscriptions/${id}`);
  }

  /** Waits until every generation the subscription was given is applied and it is in `want`. */
  async settle(id: string, want: "ready" | "cancelled" = "ready", timeoutMs = 600_000): Promise<SubscriptionView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sub = await this.subscription(id);
      if (sub.phase === want && sub.generation === sub.appliedGeneration) return sub;
      if (sub.phase === "failed" || Date.now() > deadline) throw new Error(`subscription ${id}: ${sub.phase} ${sub.lastError ?? ""}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** `tenantctl` against this service, as an operator runs it. */
  tenantctl(args: string[]): Promise<{ stdout: string; stderr: string }> {
    return promisify(execFile)(process.execPath, ["bin/tenantctl.js", ...args], { env: this.env({ TENANTCTL_URL: this.url }), timeout: 120_000 });
  }

  /** The real `pulumi` CLI from the service's project directory with `tenantctl pulumi-env`'s exports. */
  async pulumi(args: string[]): Promise<string> {
    // PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE_FILE (the CLI reads the passphrase from that file itself).
    const env = JSON.parse((await this.tenantctl(["pulumi-env", "--json"])).stdout) as Record<string, string>;
    const { stdout } = await promisify(execFile)(`${toolchain.bin}/pulumi`, args, {
      cwd: this.workDir, env: { PATH: `${toolchain.bin}:${process.env.PATH}`, HOME: this.root, PULUMI_SKIP_UPDATE_CHECK: "true", ...env }, timeout: 120_000,
    });
    return stdout;
  }
}

/** The credentials the service serves a customer (GET /v1/subscriptions/:id/credentials), the fields a login needs. */
export const Credentials = z.object({ authUrl: z.string(), username: z.string(), userDomainId: z.string(), password: z.string(), projectId: z.string() });
export type Credentials = z.infer<typeof Credentials>;

/** Keystone's answer to the customer's password, scoped to their project: 201 with a token, 401 refused. */
export async function login(c: Credentials): Promise<number> {
  return (await fetch(`${c.authUrl}/auth/tokens`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ auth: { identity: { methods: ["password"], password: { user: { name: c.username, domain: { id: c.userDomainId }, password: c.password } } }, scope: { project: { id: c.projectId } } } }),
  })).status;
}

/** `openstack quota show` as the cloud's operator: its own names, RAM in MB. */
export const quotaShow = (projectId: string) => cliJson<Record<string, number>>("openstack", ["quota", "show", projectId], adminEnv());

/** The service a test file runs on: started before its first test (failing, never skipping, without the real engine), closed after its last. */
export function serviceOfThisFile(): E2eService {
  const svc = new E2eService();
  beforeAll(async () => {
    requireRealEngine();
    await svc.start();
  }, 300_000);
  afterAll(() => svc.close());
  return svc;
}
