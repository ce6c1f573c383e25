/**
 * The engine host: the one process that loads Pulumi's Automation API and runs PulumiEngine for the
 * service (engine-host.ts starts it and talks to it over Node's IPC channel). `@pulumi/pulumi/automation`
 * pulls in the SDK's runtime (closure serialisation → typescript, arborist, pacote, sigstore, grpc: ~80 MiB
 * resident), which the service itself never needs: the Automation API only drives `pulumi` CLI processes.
 *
 * Its environment is the service's own (inherited, as the `pulumi` processes inherited it before); the
 * engine's options (passphrase, OpenStack admin credentials, the secrets to redact) arrive in the `init`
 * message. It writes nothing to stdout or stderr itself, but the one line saying why it refused a message.
 */
import { makeRedactor } from "../log.js";
import { EngineFailure, type OutputSink, type ProgressSink } from "./engine.js";
import { type Call, type FromHost, ToHost } from "./engine-host-protocol.js";
import { PulumiEngine } from "./pulumi-engine.js";

let engine: PulumiEngine | undefined;

function send(message: FromHost): void {
  // The service is gone (its channel closed): the `disconnect` handler below ends this process.
  if (process.connected) process.send?.(message, (e: Error | null) => void e);
}

function run(engine: PulumiEngine, call: Call, sinks: { onOutput?: OutputSink; onProgress?: ProgressSink }): Promise<unknown> {
  switch (call.method) {
    case "up": return engine.up({ ...call.req, ...sinks });
    case "preview": return engine.preview(call.req);
    case "destroy": return engine.destroy({ ...call.req, ...sinks });
    case "refresh": return engine.refresh({ ...call.req, ...(sinks.onOutput ? { onOutput: sinks.onOutput } : {}) });
    case "adopt": return engine.adopt(call.req);
    case "history": return engine.history(call.stack);
    case "outputs": return engine.outputs(call.stack);
    case "drift": return engine.drift(call.stack);
    case "breakLocks": return engine.breakLocks(call.stack, call.locks).then(() => null);
    case "check": return engine.check();
  }
}

/** Calls running now, and whether the service is gone (then this host ends once they are done). */
let running = 0;
let orphaned = false;

async function answer(message: Extract<ToHost, { kind: "call" }>): Promise<void> {
  const { id, call, stream } = message;
  running++;
  try {
    if (!engine) throw new Error("the engine host got a call before its options (init)");
    const sinks = {
      ...(stream.output ? { onOutput: (line: string) => send({ kind: "output", id, line }) } : {}),
      ...(stream.progress ? { onProgress: (progress: Parameters<ProgressSink>[0]) => send({ kind: "progress", id, progress }) } : {}),
    };
    send({ kind: "result", id, value: await run(engine, call, sinks) });
  } catch (e) {
    if (e instanceof EngineFailure) send({ kind: "failure", id, failure: { message: e.message, transient: e.transient, locks: e.locks } });
    else send({ kind: "error", id, message: e instanceof Error ? e.message : String(e) });
  } finally {
    running--;
    if (orphaned && running === 0) process.exit();
  }
}

process.on("message", (raw: unknown) => {
  const parsed = ToHost.safeParse(raw);
  if (!parsed.success) {
    // Not ours to answer by id: a service that sends what this host cannot read is a bug; end loudly, and
    // say why on stderr (the service logs the line): otherwise its operations only fail as "exited with
    // code 2". The issues name fields and expected types, never values.
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; ");
    process.stderr.write(`engine host: refused a message it cannot read (${issues}): the service and its host disagree on the protocol\n`);
    process.exitCode = 2;
    process.disconnect();
    return;
  }
  const m = parsed.data;
  if (m.kind === "init") {
    const { secrets, ...options } = m.options;
    engine = new PulumiEngine({ ...options, redact: makeRedactor(secrets) });
  } else void answer(m);
});
// The service ended (even by kill -9): so does its host, but only once its running calls are done. Ending
// at once ends their `pulumi` processes half-way: the automation SDK's execa kills its children when this
// process exits (SIGTERM, which the CLI takes as a cancel: pkg/backend/cancellation_scope.go), and an
// inline program's language runtime is this process. Measured with the real CLI v3.248.0 and an inline
// program (test/e2e/real-cli.test.ts): the update was recorded `failed` within a second, its lock released,
// whatever it had begun left half-done for the retry. Waiting, the update finishes and the restarted
// service finds the stack as it left it. Their output has nowhere to go now: it is dropped.
process.on("disconnect", () => {
  orphaned = true;
  if (running === 0) process.exit();
});
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
// Ctrl-C reaches the whole process group: the service shuts down in order and then ends this host.
process.on("SIGINT", () => {});
send({ kind: "ready", pid: process.pid });
