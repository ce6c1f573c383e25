import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudesireSimulator } from "../support/cloudesire-simulator.js";
import { CD_SECRET, CD_TOKEN, until } from "../support/cloudesire-scene.js";
import { SETTINGS } from "../support/settings.js";

const OPERATOR = "cd-crash-operator-token-0123456789";

interface Child { proc: ChildProcess; url: string; exited: Promise<NodeJS.Signals | number | null> }

/**
 * The service as a real child process (test/support/cloudesire-crash-child.ts) on the data directory
 * `dir/data`; its "cloud" and logs lie beside it in `dir` (a data directory holds the service's files only).
 */
async function start(dir: string, apiUrl: string, crash: boolean): Promise<Child> {
  const proc = spawn(process.execPath, ["--import", "tsx", "test/support/cloudesire-crash-child.ts"], {
    env: {
      PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: join(dir, "data"), CLOUD_FILE: join(dir, "cloud.json"),
      PORT: "0", HOST: "127.0.0.1", OPERATOR_TOKEN: OPERATOR, RECONCILE_POLL_MS: "200", RECONCILE_BACKOFF_MS: "0",
      TENANT_AUTH_URL: SETTINGS.authUrl, TENANT_REGION: SETTINGS.region,
      CLOUDESIRE_API_URL: apiUrl, CLOUDESIRE_TOKEN: CD_TOKEN, CLOUDESIRE_EVENT_SECRET: CD_SECRET, CLOUDESIRE_DASHBOARD_URL: "https://dashboard.cloud.example",
      CLOUDESIRE_PRODUCT_IDS: "12", CLOUDESIRE_PAYG_PLANS: "88", CLOUDESIRE_POLL_MS: "100", CLOUDESIRE_BACKOFF_MS: "50", CLOUDESIRE_TIMEOUT_MS: "5000",
      CRASH_AFTER_INVOICE_PUSH: crash ? "1" : "",
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((r) => proc.once("exit", (code, signal) => r(signal ?? code)));
  // The child's log, kept next to its data for a failing run.
  proc.stderr?.pipe(createWriteStream(join(dir, `service-${crash ? "crashing" : "restarted"}.log`)));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once("line", (l) => resolve((JSON.parse(l) as { url: string }).url));
    void exited.then((s) => reject(new Error(`child exited (${String(s)}) before it listened`)));
  });
  return { proc, url, exited };
}

const asOperator = (url: string, path: string, init: RequestInit = {}) =>
  fetch(`${url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${OPERATOR}` } });

describe("kill -9 between an invoice push and its record", () => {
  let sim: CloudesireSimulator;
  beforeAll(async () => {
    sim = await new CloudesireSimulator({ token: CD_TOKEN, secret: CD_SECRET }).start();
  });
  afterAll(async () => sim.stop());

  it("the invoice is pushed once: after the restart its outcome is unknown, so it is held for an operator, not pushed again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cd-crash-"));
    console.log(`service logs in ${dir}`);
    const first = await start(dir, sim.url, true);
    sim.target(first.url);
    sim.order(300, { type: "TRIAL", productVersion: 88, quantities: {} });
    await sim.notify(300, "CREATED");
    await until(() => sim.patches.some((p) => p.subscription === 300 && p.deploymentStatus === "DEPLOYED"), "DEPLOYED", 120_000);

    first.proc.stdin?.write("bill 2026-10 300\n");
    expect(await first.exited).toBe("SIGKILL");
    expect(sim.invoices).toHaveLength(1);

    const second = await start(dir, sim.url, false);
    let passed = false;
    try {
      sim.target(second.url);
      type View = { outbox: Array<{ id: number; kind: string; state: string; lastError: string | null }> };
      let view: View | undefined;
      await until(async () => {
        const res = await asOperator(second.url, "/v1/cloudesire/subscriptions/300");
        view = (await res.json()) as View;
        return view.outbox.some((r) => r.kind === "invoice" && r.state === "held");
      }, "the interrupted push held", 120_000);
      const invoice = view?.outbox.find((r) => r.kind === "invoice");
      expect(invoice?.lastError).toContain("interrupted during the push");
      // A Cloudesire notification after the restart changes nothing about it.
      await sim.notify(300, "MODIFIED");
      const dead = (await (await asOperator(second.url, "/v1/cloudesire/dead-letters")).json()) as { deadLetters: Array<{ id: number; kind: string }> };
      expect(dead.deadLetters.map((d) => d.kind)).toEqual(["invoice"]);
      expect(sim.callsTo("POST", /invoice$/)).toHaveLength(1);
      expect(sim.invoices).toHaveLength(1);
      // The rest of the report-back was done once, before the crash.
      expect(sim.callsTo("POST", /credentials$/)).toHaveLength(1);
      passed = true;
    } finally {
      second.proc.kill("SIGTERM");
      await second.exited;
      // A failing run keeps its logs (printed above) for a look.
      if (passed) rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
