import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/api/app.js";
import { DEFAULT_QUOTA_DEFAULTS } from "../../src/domain/quota.js";
import { createLogger, makeRedactor } from "../../src/log.js";
import { openDb } from "../../src/store/db.js";
import { JobQueue } from "../../src/store/job-queue.js";
import { migrate } from "../../src/store/migrations.js";
import { assembleWorkers } from "../../src/workers.js";
import { InstantEngine } from "./instant-engine.js";

export const BENCH_TOKEN = "bench-operator-token-0123456789";

/**
 * The service as it runs on the embedded store, for benchmarks: a fresh PGlite in a temporary data
 * directory (migrated, no ANALYZE), pg-boss, the wiring of src/workers.ts and the real app around an
 * instant engine; OPERATOR_TOKEN is BENCH_TOKEN.
 */
export async function embeddedService(name: string, say: (line: string) => void) {
  const dataDir = mkdtempSync(join(tmpdir(), `tenants-${name}-`));
  const { db } = await openDb({ dataDir });
  await migrate(db);
  const log = createLogger({ redact: makeRedactor([BENCH_TOKEN]), write: () => {}, level: "error" });
  const queue = await JobQueue.open(db, { maxAttempts: 3, backoffMs: 1000, expireInSeconds: 3600 }, (e) => say(`queue error: ${e.message}`));
  const settings = {
    domainId: "default", memberRole: "member", region: "RegionOne", authUrl: "http://127.0.0.1:5000/v3",
    limits: { maxCores: 64, maxRamGb: 256, maxDiskGb: 2000, maxFloatingIps: 16 }, quotaDefaults: DEFAULT_QUOTA_DEFAULTS,
  };
  const engine = new InstantEngine();
  const w = assembleWorkers({ db, queue, engine, log, settings, concurrency: 4, pollMs: 60_000, driftIntervalSeconds: 0 });
  const app = createApp({
    store: w.store, intake: w.intake, engine, reconciler: w.reconciler, queue, settings, log, metrics: w.metrics,
    drift: { store: w.driftStore, detector: w.drift }, webhookSecret: undefined, replayWindowSeconds: 300,
    operatorToken: BENCH_TOKEN, operators: w.operators, audit: w.audit, customerTokenKey: "bench-customer-token-key-0123456789-0123", health: async () => ({ status: "ok" }),
  });
  const close = async () => {
    await queue.stop();
    await w.reconciler.stop();
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { dataDir, db, w, app, close };
}
