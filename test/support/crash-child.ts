/**
 * The service as a child process for crash tests: the real server, store (embedded PGlite in DATA_DIR)
 * and queue, with the journal engine double. CRASH_AT picks where it kills itself. Prints its URL.
 */
import { loadConfig } from "../../src/config.js";
import { createLogger, makeRedactor, type Logger } from "../../src/log.js";
import { startService } from "../../src/server.js";
import { JournalEngine, journalGuard, type CrashPoint } from "./journal-engine.js";

const crashAt = (process.env.CRASH_AT || undefined) as CrashPoint;
const config = loadConfig(process.env);
const base = createLogger({ redact: makeRedactor(config.secrets), write: (l) => process.stderr.write(`${l}\n`) });
const log: Logger = {
  ...base,
  info(msg, fields) {
    base.info(msg, fields);
    // The event is stored (its transaction committed) and the 202 is built, not yet sent: die here.
    if (crashAt === "before-202" && msg === "request" && fields?.path === "/v1/events" && fields.status === 202) process.kill(process.pid, "SIGKILL");
  },
};
const svc = await startService(config, { engine: new JournalEngine(process.env.CLOUD_FILE as string, crashAt), guard: journalGuard(process.env.CLOUD_FILE as string), log });
process.stdout.write(`${JSON.stringify({ url: svc.url })}\n`);
