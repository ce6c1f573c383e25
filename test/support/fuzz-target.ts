import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { type RunningService, startService } from "../../src/server.js";
import { signWebhook } from "../../src/domain/webhook-signature.js";
import { event } from "./events.js";
import { RecordingEngine } from "./recording-engine.js";

export const FUZZ_OPERATOR_TOKEN = "op-token-fuzz-0123456789abcdef";

/**
 * The whole service as an operator runs it (startService: embedded PGlite in a fresh DATA_DIR, the real
 * HTTP server, the default limits), around the engine double, for a fuzzer from outside: nothing but the
 * operator token and the webhook secret configured, so unconfigured features answer as they would.
 */
export async function startFuzzTarget(): Promise<RunningService> {
  const webhookSecret = "whsec-fuzz-0123456789abcdef";
  const config = loadConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), "fuzz-target-")), PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "error",
    WEBHOOK_SECRET: webhookSecret, OPERATOR_TOKEN: FUZZ_OPERATOR_TOKEN,
    // A fuzzer sends hundreds of requests without or with a wrong token from one address: with the default
    // budget every later request (the right token too) would be a 429 and no route would be exercised. The
    // budget itself has its own tests (test/unit/security).
    AUTH_FAILURES_PER_MINUTE: "1000000", AUTH_FAILURE_BURST: "1000000",
  });
  const svc = await startService(config, { engine: new RecordingEngine(), log: createLogger({ redact: (t) => t, level: "error", write: () => {} }) });
  // Subscription 42, the id of the document's examples, is ready: the routes on one subscription (retry,
  // preview, credentials, history...) answer from a real one instead of a 404 (the fuzzer cannot sign a
  // webhook to make one).
  const raw = JSON.stringify(event("42", "subscription.created"));
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await fetch(`${svc.url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(webhookSecret, ts, raw) } });
  if (res.status !== 202) throw new Error(`the fuzz target's subscription 42 was refused: ${res.status} ${await res.text()}`);
  await svc.reconciler.idle();
  return svc;
}
