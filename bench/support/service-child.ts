/** The service in its own process for load benchmarks: embedded PGlite, an engine that returns at once (or after ENGINE_DELAY_MS). */
import { loadConfig } from "../../src/config.js";
import { createLogger, makeRedactor } from "../../src/log.js";
import { startService } from "../../src/server.js";
import { InstantEngine } from "./instant-engine.js";

const config = loadConfig(process.env);
const log = createLogger({ redact: makeRedactor(config.secrets), level: "error" });
const svc = await startService(config, { engine: new InstantEngine(Number(process.env.ENGINE_DELAY_MS ?? 0)), log });
process.stdout.write(`${JSON.stringify({ url: svc.url })}\n`);
process.once("SIGINT", () => process.exit(0));
