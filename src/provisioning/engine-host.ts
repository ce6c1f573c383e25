import { type ChildProcess, fork } from "node:child_process";
import { dirname, extname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TenantSpec } from "../domain/tenant-spec.js";
import {
  EngineFailure,
  type EngineCheck,
  type DriftReport,
  type Engine,
  type HistoryEntry,
  type Leftovers,
  type OperationSummary,
  type UpResult,
  type OutputSink,
  type PreviewResult,
  type ProgressSink,
  type StackChange,
} from "./engine.js";
import type { StackOutputs } from "../domain/lifecycle.js";
import type { StackLock } from "./stack-lock.js";
import { type Call, FromHost, type HostOptions, type Method, RESULTS, type ResultOf, type ToHost } from "./engine-host-protocol.js";

export interface EngineHostOptions {
  /** What PulumiEngine is built with in the child (sent over the IPC channel, never as arguments). */
  engine: HostOptions;
  /** The child's environment; the service's own by default (what the `pulumi` processes inherited). */
  env?: NodeJS.ProcessEnv;
  /** Each line the child or a library in it prints on stdout or stderr (the service logs it, redacted). */
  onLine?: (line: string) => void;
  /**
   * Ends the host after this long without a call in flight, to start it again on the next one (~1-3 s,
   * beside a `pulumi up` of seconds): a service whose drift sweeps find nothing to repair (issue 16, item
   * 4) runs no engine call for hours, and needs not keep the SDK resident meanwhile. 0 or absent: never.
   */
  idleMs?: number;
}

interface Pending {
  method: Method;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
  onOutput?: OutputSink | undefined;
  onProgress?: ProgressSink | undefined;
}

interface Host {
  child: ChildProcess;
  ready: Promise<void>;
  pending: Map<number, Pending>;
  idle?: NodeJS.Timeout | undefined;
}

const here = fileURLToPath(import.meta.url);
/** engine-host-child.ts next to this file (or .js once compiled: then plain node runs it, no loader). */
const CHILD = join(dirname(here), `engine-host-child${extname(here)}`);

/**
 * The Engine the service uses: the real PulumiEngine, run in one long-lived child process (the engine
 * host, engine-host-child.ts), so that the service never loads `@pulumi/pulumi` (~80 MiB resident of SDK
 * runtime it never uses: bench/footprint.ts). The child is started on the first call and again after it
 * died; a call in flight when it dies fails as a transient EngineFailure, so the queue retries it (a
 * `pulumi` process it left running keeps the stack's lock until it ends: the reconciler's lock recovery
 * and adoption handle that exactly as after a crash of the whole service).
 */
export class EngineHostClient implements Engine {
  private host: Host | undefined;
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: EngineHostOptions) {}

  /** The host's pid, once started (for measurements and tests). */
  get pid(): number | undefined {
    return this.host?.child.pid;
  }

  up(req: StackChange): Promise<UpResult> {
    const { onOutput, onProgress, ...data } = req;
    return this.call({ method: "up", req: data }, { onOutput, onProgress });
  }
  preview(req: { stack: string; spec: TenantSpec }): Promise<PreviewResult> {
    return this.call({ method: "preview", req: { stack: req.stack, spec: req.spec } });
  }
  destroy(req: { stack: string; message: string; onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<OperationSummary> {
    return this.call({ method: "destroy", req: { stack: req.stack, message: req.message } }, { onOutput: req.onOutput, onProgress: req.onProgress });
  }
  refresh(req: { stack: string; message: string; onOutput?: OutputSink }): Promise<OperationSummary> {
    return this.call({ method: "refresh", req: { stack: req.stack, message: req.message } }, { onOutput: req.onOutput });
  }
  adopt(req: { stack: string; message: string; found: Leftovers }): Promise<string[]> {
    const found = { ...(req.found.projectId ? { projectId: req.found.projectId } : {}), ...(req.found.userId ? { userId: req.found.userId } : {}) };
    return this.call({ method: "adopt", req: { stack: req.stack, message: req.message, found } });
  }
  history(stack: string): Promise<HistoryEntry[]> {
    return this.call({ method: "history", stack });
  }
  outputs(stack: string): Promise<StackOutputs | null> {
    return this.call({ method: "outputs", stack });
  }
  drift(stack: string): Promise<DriftReport | null> {
    return this.call({ method: "drift", stack });
  }
  async breakLocks(stack: string, locks: StackLock[]): Promise<void> {
    await this.call({ method: "breakLocks", stack, locks });
  }
  /** The CLI on PATH (at least MIN_CLI_VERSION) and the provider plugin: what the health check reports. */
  check(): Promise<EngineCheck> {
    return this.call({ method: "check" });
  }

  /** Ends the host (a call still in flight fails as transient). */
  async close(): Promise<void> {
    this.closed = true;
    const host = this.host;
    if (!host || host.child.exitCode !== null || host.child.signalCode !== null) return;
    const exited = new Promise((r) => host.child.once("exit", r));
    host.child.kill("SIGTERM");
    await exited;
  }

  private call<M extends Method>(call: Extract<Call, { method: M }>, sinks: { onOutput?: OutputSink | undefined; onProgress?: ProgressSink | undefined } = {}): Promise<ResultOf<M>> {
    if (this.closed) return Promise.reject(new EngineFailure("the engine host is closed (the service is shutting down)", true));
    const host = this.host ?? this.start();
    clearTimeout(host.idle);
    const id = this.nextId++;
    const message: ToHost = { kind: "call", id, call, stream: { output: !!sinks.onOutput, progress: !!sinks.onProgress } };
    return new Promise<ResultOf<M>>((resolve, reject) => {
      host.pending.set(id, { method: call.method, resolve: resolve as (v: unknown) => void, reject, ...sinks });
      host.ready.then(
        () => host.child.send(message, (e: Error | null) => e && this.settle(host, id, (p) => p.reject(gone(`could not be reached (${e.message})`)))),
        () => {}, // the exit handler rejects every pending call
      );
    });
  }

  private start(): Host {
    const child = fork(CHILD, [], {
      // tsx as the service runs (bin/tenantctl.js), not the parent's whole execArgv (under a test runner or
      // with --inspect it holds flags that are not the host's business), and its ES module hooks only: all
      // of ours is ES modules, and @pulumi/* is CommonJS that needs no transform; tsx's CommonJS hook cost
      // ~16 MiB more resident over the SDK's ~190 modules (measured: 196 vs 180 MiB after a first call).
      execArgv: extname(CHILD) === ".ts" ? ["--import", import.meta.resolve("tsx/esm")] : [],
      // Absent: Node gives the child this process's environment.
      ...(this.opts.env ? { env: this.opts.env } : {}),
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    const host: Host = { child, pending: new Map(), ready: Promise.resolve() };
    this.host = host;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (line) => this.opts.onLine?.(line));
    }
    host.ready = new Promise<void>((resolve, reject) => {
      child.on("message", (raw: unknown) => {
        const parsed = FromHost.safeParse(raw);
        if (!parsed.success) {
          // A host that answers what we cannot read is broken: end it; its pending calls fail as transient.
          this.opts.onLine?.(`engine host sent an unreadable message: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
          child.kill("SIGKILL");
          return;
        }
        const m = parsed.data;
        if (m.kind === "ready") {
          child.send({ kind: "init", options: { ...this.opts.engine, inlineProgram: this.opts.engine.inlineProgram ?? null } } satisfies ToHost);
          resolve();
        } else this.receive(host, m);
      });
      const ended = (how: string) => {
        reject(gone(how));
        if (this.host === host) this.host = undefined;
        for (const id of [...host.pending.keys()]) this.settle(host, id, (p) => p.reject(gone(how)));
      };
      child.once("exit", (code, signal) => ended(signal ? `ended by ${signal}` : `exited with code ${code}`));
      child.once("error", (e) => ended(`failed: ${e.message}`));
    });
    host.ready.catch(() => {});
    return host;
  }

  private receive(host: Host, m: Exclude<FromHost, { kind: "ready" }>): void {
    const p = host.pending.get(m.id);
    if (!p) return;
    if (m.kind === "output") p.onOutput?.(m.line);
    else if (m.kind === "progress") p.onProgress?.(m.progress);
    else if (m.kind === "failure") this.settle(host, m.id, () => p.reject(new EngineFailure(m.failure.message, m.failure.transient, m.failure.locks)));
    else if (m.kind === "error") this.settle(host, m.id, () => p.reject(new Error(`engine host: ${m.message}`)));
    else {
      const value = RESULTS[p.method].safeParse(m.value);
      this.settle(host, m.id, () => (value.success ? p.resolve(value.data) : p.reject(new Error(`engine host answered ${p.method} with an unexpected shape: ${value.error.message}`))));
    }
  }

  private settle(host: Host, id: number, how: (p: Pending) => void): void {
    const p = host.pending.get(id);
    if (!p) return;
    host.pending.delete(id);
    how(p);
    const idleMs = this.opts.idleMs ?? 0;
    if (host.pending.size === 0 && idleMs > 0 && this.host === host) {
      host.idle = setTimeout(() => {
        if (host.pending.size > 0 || this.host !== host) return;
        this.host = undefined;
        host.child.kill("SIGTERM");
      }, idleMs).unref();
    }
  }
}

/** The host died (or could not be reached) under a call: transient, the next call gets a fresh host. */
function gone(how: string): EngineFailure {
  return new EngineFailure(`the engine host process ${how} during the operation; it is retried with a fresh one`, true);
}
