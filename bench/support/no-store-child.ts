/**
 * Where a webhook's time goes: the service's whole HTTP path (routing, body bound, signature, schema,
 * limits, response) with the intake replaced by one that stores nothing. Not a service: a measuring point
 * between the bare handler and the durable one, printed by bench/load.ts.
 */
import { serve } from "@hono/node-server";
import { createApp } from "../../src/api/app.js";
import { loadConfig } from "../../src/config.js";
import { createLogger, makeRedactor } from "../../src/log.js";
import type { EventIntake, IntakeItem } from "../../src/store/subscription-store.js";
import { foldEvent } from "../../src/domain/subscription.js";
import { assembleWorkers } from "../../src/workers.js";
import { openPglite } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrations.js";
import { JobQueue } from "../../src/store/job-queue.js";
import { InstantEngine } from "./instant-engine.js";

const config = loadConfig(process.env);
const log = createLogger({ redact: makeRedactor(config.secrets), level: "error" });
// The rest of the app is wired as in the service (an in-memory database nobody writes to during the run).
const db = await openPglite();
await migrate(db);
const queue = await JobQueue.open(db, { maxAttempts: 1, backoffMs: 0, expireInSeconds: 60 }, () => {});
const engine = new InstantEngine(0);
const w = assembleWorkers({ db, queue, engine, log, settings: config.tenant, concurrency: 1, pollMs: 60_000, driftIntervalSeconds: 0 });
const noStore = {
  async submit({ event }: IntakeItem): Promise<EventIntake> {
    const now = new Date().toISOString();
    // The desired state a first event gives, computed as the store would (nothing is stored).
    const folded = foldEvent(null, event);
    if (folded.outcome !== "applied") throw new Error("a first event always applies");
    const desired = folded.state;
    return {
      outcome: "applied", changed: true, created: false,
      subscription: { id: event.subscription.id, desired, generation: 2, appliedGeneration: 1, phase: "pending", lastError: null, outputs: null, tokenHash: null, tokenGeneration: 1, pendingNote: null, rotatePassword: false, refreshNext: false, createdAt: now, updatedAt: now },
    };
  },
};
const app = createApp({
  store: w.store, intake: noStore, engine, reconciler: { kick() {} }, queue, settings: config.tenant, log, metrics: w.metrics,
  webhookSecret: config.webhookSecret, replayWindowSeconds: config.replayWindowSeconds, operatorToken: config.operatorToken, operators: w.operators, audit: w.audit, customerTokenKey: config.customerTokenKey,
  health: async () => ({ status: "ok" }),
});
serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${info.port}` })}\n`));
process.once("SIGINT", () => process.exit(0));
