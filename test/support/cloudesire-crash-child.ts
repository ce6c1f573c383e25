/**
 * The service as a child process for the invoice crash test: the real server and store (embedded PGlite
 * in DATA_DIR), the journal engine double (its "cloud" file outlives the process), Cloudesire's API given
 * by CLOUDESIRE_API_URL (the simulator in the test process). With CRASH_AFTER_INVOICE_PUSH=1 it kills
 * itself (SIGKILL) right after Cloudesire answered an invoice push, before the answer is recorded.
 * A line `bill <period> <subscription>` on stdin saves a finished billing run for that PAYG subscription.
 * Prints its URL.
 */
import { createInterface } from "node:readline";
import { loadConfig } from "../../src/config.js";
import { createLogger, makeRedactor } from "../../src/log.js";
import { startService } from "../../src/server.js";
import { JournalEngine } from "./journal-engine.js";
import { paygRun } from "./payg-run.js";

if (process.env.CRASH_AFTER_INVOICE_PUSH === "1") {
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await original(input, init);
    if (init?.method === "POST" && String(input).includes("/invoice?")) process.kill(process.pid, "SIGKILL");
    return res;
  };
}
const config = loadConfig(process.env);
const log = createLogger({ redact: makeRedactor(config.secrets), write: (l) => process.stderr.write(`${l}\n`) });
const svc = await startService(config, { engine: new JournalEngine(process.env.CLOUD_FILE as string, undefined), log });
createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, period, id] = line.trim().split(/\s+/);
  if (command !== "bill" || !period || !id) return;
  const { computation, totals } = paygRun(period, { [id]: { cores: 720, ramGb: 1440, diskGb: 72000, floatingIps: 0 } });
  void svc.billingStore.save(computation, totals).then(() => svc.cloudesire.kick());
});
process.stdout.write(`${JSON.stringify({ url: svc.url })}\n`);
