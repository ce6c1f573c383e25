import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { type RunningService, startService } from "../../src/server.js";
import { RecordingEngine } from "./recording-engine.js";

export const FUZZ_OPERATOR_TOKEN = "op-token-fuzz-0123456789abcdef";

/**
 * The whole service as an operator runs it (startService: embedded PGlite in a fresh DATA_DIR, the real
 * HTTP server, the default limits), around the engine double, for a fuzzer from outside: nothing but the
 * operator token and the webhook secret configured, so unconfigured features answer as they would.
 */
export async function startFuzzTarget(): Promise<RunningService> {
  const config = loadConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), "fuzz-target-")), PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "error",
    WEBHOOK_SECRET: "whsec-fuzz-0123456789abcdef", OPERATOR_TOKEN: FUZZ_OPERATOR_TOKEN,
    // A fuzzer sends hundreds of requests without or with a wrong token from one address: with the default
    // budget every later request (the right token too) would be a 429 and no route would be exercised. The
    // budget itself has its own tests (test/unit/security).
    AUTH_FAILURES_PER_MINUTE: "1000000", AUTH_FAILURE_BURST: "1000000",
  });
  return startService(config, { engine: new RecordingEngine(), log: createLogger({ redact: (t) => t, level: "error", write: () => {} }) });
}
