import { z } from "zod";
import { TenantSpec } from "../domain/tenant-spec.js";
import { QuotaReadBack } from "../domain/quota.js";
import { EngineCheck } from "./engine.js";

/**
 * The messages between the service and its engine host (engine-host.ts, engine-host-child.ts), over Node's
 * IPC channel (JSON). Both sides parse every message they receive with these schemas: the channel is an
 * edge like any other. The engine's options travel in `init`, never in the child's arguments (every local
 * user can read `/proc/<pid>/cmdline`), and the customer's password only inside an `up` call.
 */

const Stack = z.string().min(1).max(128);
const Id = z.number().int().positive();

/** What PulumiEngine is built with in the child; `secrets` become its redactor (log.ts makeRedactor). */
export const HostOptions = z.object({
  workDir: z.string().min(1),
  backendUrl: z.string().min(1),
  passphrase: z.string().min(1),
  openstackEnv: z.record(z.string(), z.string()),
  secrets: z.array(z.string()),
  /** PulumiEngineOptions.inlineProgram: a module's file URL, or null for Pulumi.yaml's `main`. */
  inlineProgram: z.string().min(1).nullable().default(null),
}).strict();
export type HostOptions = z.input<typeof HostOptions>;

/** One call of the Engine interface, its callbacks left out (they come back as `output`/`progress`). */
const StackLock = z.object({ url: z.string(), username: z.string(), hostname: z.string(), pid: z.number(), timestamp: z.string() });

export const Call = z.discriminatedUnion("method", [
  z.object({
    method: z.literal("up"),
    req: z.object({ stack: Stack, spec: TenantSpec, password: z.string(), message: z.string(), refresh: z.boolean().optional(), exists: z.boolean().optional() }).strict(),
  }),
  z.object({ method: z.literal("preview"), req: z.object({ stack: Stack, spec: TenantSpec }).strict() }),
  z.object({ method: z.literal("destroy"), req: z.object({ stack: Stack, message: z.string() }).strict() }),
  z.object({ method: z.literal("refresh"), req: z.object({ stack: Stack, message: z.string() }).strict() }),
  z.object({
    method: z.literal("adopt"),
    req: z.object({ stack: Stack, message: z.string(), found: z.object({ projectId: z.string().optional(), userId: z.string().optional() }).strict() }).strict(),
  }),
  z.object({ method: z.literal("history"), stack: Stack }),
  z.object({ method: z.literal("outputs"), stack: Stack }),
  z.object({ method: z.literal("drift"), stack: Stack }),
  z.object({ method: z.literal("breakLocks"), stack: Stack, locks: z.array(StackLock) }),
  /** The CLI on PATH (its version, at least MIN_CLI_VERSION) and the provider plugin, as the health check reports them. */
  z.object({ method: z.literal("check") }),
]);
export type Call = z.infer<typeof Call>;
export type Method = Call["method"];

export const ToHost = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("init"), options: HostOptions }),
  z.object({ kind: z.literal("call"), id: Id, call: Call, stream: z.object({ output: z.boolean(), progress: z.boolean() }) }),
]);
export type ToHost = z.infer<typeof ToHost>;

const ResourceProgress = z.object({ name: z.string(), type: z.string(), op: z.string(), state: z.enum(["started", "done", "failed"]) });
/** An EngineFailure as data: the reconciler's retry and lock recovery read `transient` and `locks`. */
export const FailureData = z.object({ message: z.string(), transient: z.boolean(), locks: z.array(StackLock) });

export const FromHost = z.discriminatedUnion("kind", [
  /** Sent once the child listens: messages sent before could be lost while its modules load. */
  z.object({ kind: z.literal("ready"), pid: z.number() }),
  z.object({ kind: z.literal("output"), id: Id, line: z.string() }),
  z.object({ kind: z.literal("progress"), id: Id, progress: ResourceProgress }),
  z.object({ kind: z.literal("result"), id: Id, value: z.unknown() }),
  z.object({ kind: z.literal("failure"), id: Id, failure: FailureData }),
  /** Anything else the child threw: a bug on its side, not an answer of Pulumi's. */
  z.object({ kind: z.literal("error"), id: Id, message: z.string() }),
]);
export type FromHost = z.infer<typeof FromHost>;

const Changes = z.record(z.string(), z.number());
const OperationSummary = z.object({ resourceChanges: Changes });
const TenantOutputs = z.object({
  projectId: z.string(), userId: z.string(), userName: z.string(), authUrl: z.string(),
  region: z.string(), domainId: z.string(), password: z.string(),
}).nullable();

/** What each method answers (the engine.ts types); `breakLocks` answers null (JSON has no undefined). */
export const RESULTS = {
  up: OperationSummary.extend({ outputs: TenantOutputs.optional(), quotaSets: QuotaReadBack.optional() }),
  preview: z.object({ changeSummary: Changes, text: z.string() }),
  destroy: OperationSummary,
  refresh: OperationSummary,
  adopt: z.array(z.string()),
  history: z.array(z.object({
    version: z.number(), kind: z.string(), message: z.string(), result: z.string(),
    startTime: z.string(), endTime: z.string().nullable(), resourceChanges: Changes,
  })),
  outputs: TenantOutputs,
  drift: z.object({ differences: z.array(z.object({ resource: z.string(), type: z.string(), change: z.string(), properties: z.array(z.string()) })) }).nullable(),
  breakLocks: z.null(),
  check: EngineCheck,
} satisfies Record<Method, z.ZodType>;
export type ResultOf<M extends Method> = z.infer<(typeof RESULTS)[M]>;
