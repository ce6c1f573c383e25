/**
 * The service in its own process for the scale bench (its resident memory is its own): the real wiring
 * (`startService`) on an embedded PGlite in DATA_DIR, around the paced engine double. Prints its URL on
 * the first stdout line; answers "calls" on its IPC channel with the engine's call counts.
 */
import { loadConfig } from "../../src/config.js";
import { createLogger, makeRedactor } from "../../src/log.js";
import { startService } from "../../src/server.js";
import { PacedEngine } from "./paced-engine.js";

const config = loadConfig(process.env);
const log = createLogger({ redact: makeRedactor(config.secrets), level: "error" });
const engine = new PacedEngine({ medianMs: 8000, sigma: 0.6, timeScale: Number(process.env.BENCH_TIME_SCALE ?? 0.01) });
const svc = await startService(config, { engine, log });
process.stdout.write(`${JSON.stringify({ url: svc.url })}\n`);
process.on("message", (m) => {
  if (m === "calls") process.send?.({ calls: engine.calls });
});
process.once("SIGINT", () => void svc.close().then(() => process.exit(0)));
