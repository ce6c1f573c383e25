/**
 * The service in its own process for the scale bench (its resident memory is its own): the real wiring
 * (`startService`) on an embedded PGlite in DATA_DIR, around the paced engine double. Prints its URL on
 * the first stdout line; answers on its IPC channel "calls" with the engine's call counts, "memory" with
 * node's own view of its memory, "gc" with the same after a full collection (when run with --expose-gc),
 * "snapshot" with the path of a heap snapshot it wrote, { upOf: stack } with that stack's last `up`.
 *
 * With BENCH_CLOUD_URL (the bench's cloud double, bench/support/cloud-double.ts, in the parent process so
 * that its memory and work are not the service's), drift sweeps take the production pre-check
 * (tenantPrecheck over a CloudClient) against it, and each stack the engine double applies is posted to the
 * parent ({ declared }) so the double answers what the stack declares. The tenant guard stays off: the
 * bench measures the queue, not the guard's requests around each update.
 */
import { writeHeapSnapshot } from "node:v8";
import { loadConfig } from "../../src/config.js";
import { createLogger, makeRedactor } from "../../src/log.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { startService } from "../../src/server.js";
import { cloudDoubleCredentials } from "./cloud-double.js";
import { PacedEngine } from "./paced-engine.js";

const config = loadConfig(process.env);
const log = createLogger({ redact: makeRedactor(config.secrets), level: "error" });
const cloudUrl = process.env.BENCH_CLOUD_URL;
const engine = new PacedEngine({
  medianMs: 8000, sigma: 0.6, timeScale: Number(process.env.BENCH_TIME_SCALE ?? 0.01),
  // The purchases made during the rollout, at their own scale (BENCH_PURCHASE_TIME_SCALE), if given.
  ...(process.env.BENCH_PURCHASE_TIME_SCALE
    ? { timeScaleOf: (stack: string) => (stack.startsWith("sub-during-rollout-") ? Number(process.env.BENCH_PURCHASE_TIME_SCALE) : undefined) }
    : {}),
  ...(cloudUrl
    ? {
        onApplied: (ids, spec) => process.send?.({ declared: { ids, spec } }),
        onDestroyed: (ids) => process.send?.({ destroyed: ids }),
      }
    : {}),
});
const svc = await startService(config, { engine, log, ...(cloudUrl ? { driftCloud: new CloudClient(cloudDoubleCredentials(cloudUrl)) } : {}) });
process.stdout.write(`${JSON.stringify({ url: svc.url })}\n`);
process.on("message", (m) => {
  if (m === "calls") process.send?.({ calls: engine.calls });
  else if (m === "memory") process.send?.({ memory: process.memoryUsage() });
  else if (m === "gc") {
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ gcMemory: process.memoryUsage() });
  } else if (m === "snapshot") process.send?.({ snapshot: writeHeapSnapshot() });
  else if (typeof m === "object" && m !== null && "upOf" in m) process.send?.({ up: engine.lastUp.get(String(m.upOf)) ?? null });
});
process.once("SIGINT", () => void svc.close().then(() => process.exit(0)));
