import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { signWebhook } from "../../src/domain/webhook-signature.js";
import { tenantSpecOf } from "../../src/domain/tenant-spec.js";
import { foldEvent } from "../../src/domain/subscription.js";
import { event } from "../support/events.js";
import { readCloud, readJournal, type CrashPoint } from "../support/journal-engine.js";
import { readLocks } from "../support/pulumi-locks.js";
import { SETTINGS } from "../support/settings.js";

const SECRET = "crash-webhook-secret-0123456789";
const TOKEN = "crash-operator-token-0123456789";

interface Child { proc: ChildProcess; url: string; exited: Promise<NodeJS.Signals | number | null> }

/** Starts the service as a real child process on the same data directory and "cloud" file (kept apart: the data directory holds the service's files only). */
async function start(dataDir: string, cloud: string, crashAt: CrashPoint): Promise<Child> {
  const proc = spawn(process.execPath, ["--import", "tsx", "test/support/crash-child.ts"], {
    env: {
      PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir, CLOUD_FILE: cloud, CRASH_AT: crashAt ?? "",
      // Retries 1 s apart (doubling): a surviving `pulumi` stand-in holds its lock until the restarted service was refused by it.
      PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: SECRET, OPERATOR_TOKEN: TOKEN, RECONCILE_POLL_MS: "200", RECONCILE_BACKOFF_MS: "1000",
      TENANT_AUTH_URL: SETTINGS.authUrl, TENANT_REGION: SETTINGS.region,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((r) => proc.once("exit", (code, signal) => r(signal ?? code)));
  proc.stderr?.resume();
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once("line", (l) => resolve((JSON.parse(l) as { url: string }).url));
    void exited.then((s) => reject(new Error(`child exited (${String(s)}) before it listened`)));
  });
  return { proc, url, exited };
}

function deliver(url: string, body: unknown): Promise<Response> {
  const raw = JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  return fetch(`${url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(SECRET, ts, raw) } });
}

async function settled(url: string, id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${url}/v1/subscriptions/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (res.status === 200) {
      const sub = (await res.json()) as Record<string, unknown>;
      if (sub.phase === "ready" && sub.generation === sub.appliedGeneration) return sub;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`subscription ${id} did not settle`);
}

describe("kill -9 of the service process, then a restart: every accepted event applied exactly once in effect", () => {
  it.each<[CrashPoint, string]>([
    ["before-202", "event stored, 202 never sent"],
    ["after-202", "202 sent, job not started"],
    ["during-engine", "during the stack update; its pulumi process survives, finishes and unlocks"],
    ["during-engine-cli-dies", "during the stack update, with its pulumi process: lock and pending creates left behind"],
    ["after-engine", "stack updated, result not recorded"],
  ])("killed %s (%s)", async (crashAt) => {
    const dir = mkdtempSync(join(tmpdir(), "crash-"));
    const dataDir = join(dir, "data");
    const cloud = join(dir, "cloud.json");
    const created = event("77", "subscription.created");

    const first = await start(dataDir, cloud, crashAt);
    const answer = await deliver(first.url, created).then((r) => r.status, () => "connection lost");
    expect(await first.exited).toBe("SIGKILL");
    if (crashAt === "before-202") expect(answer).toBe("connection lost");
    else expect(answer).toBe(202);

    const second = await start(dataDir, cloud, undefined);
    try {
      // The marketplace retries what it did not see acknowledged; a retry of a stored event is a duplicate,
      // and still carries the customer's token (derived from the key in DATA_DIR, not kept from the lost answer).
      let token: string | undefined;
      if (answer !== 202) {
        const again = await deliver(second.url, created);
        expect(again.status).toBe(200);
        token = ((await again.json()) as { credentialsToken?: string }).credentialsToken;
        expect(token).toMatch(/^ct_/);
      }
      const sub = await settled(second.url, "77");
      if (token) expect((await fetch(`${second.url}/v1/subscriptions/77/credentials`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      const stack = readCloud(cloud)["sub-77"];
      expect(stack?.spec).toEqual(tenantSpecOf(foldEvent(null, created).state as never, SETTINGS));
      // The journal engine's backend lies beside its cloud file.
      expect(readLocks(join(dir, "pulumi-backend"), "sub-77")).toEqual([]);
      expect(stack?.effectiveChanges).toBe(1); // applied once in effect (a re-run after the crash changes nothing)
      expect(sub.lastError).toBeNull();
      // Exactly one project in Keystone, and it is the one the stack (and the recorded outputs) name.
      const keystone = readJournal(cloud).keystone;
      expect(Object.keys(keystone)).toEqual(["sub-77"]);
      expect((sub.outputs as { projectId: string }).projectId).toBe(keystone["sub-77"]?.projectId);
      if (crashAt === "during-engine-cli-dies") {
        // The dead pulumi's lock was recognised as orphaned and cancelled, what its create left in Keystone
        // was adopted, and both are in the history.
        expect(stack?.history.at(-1)?.message).toMatch(/after interrupted operation \d+; cancelled the stack lock left by pid \d+ on .+, no longer running; adopted project \S+, user \S+ left by it\)$/);
      }
      if (crashAt === "during-engine") {
        // The surviving pulumi was never interrupted: its update is in the history, then ours, which changed
        // nothing (it read the stack the survivor finished, though nothing was recorded, and kept its password).
        expect(stack?.history.map((h) => h.result)).toEqual(["succeeded", "succeeded"]);
        expect(stack?.history.every((h) => !/cancelled the stack lock/.test(h.message))).toBe(true);
      }
      const ops = (sub.operations as Array<{ result: string; error: string | null }>).map((o) => o.result);
      expect(ops.filter((r) => r === "succeeded")).toHaveLength(1);
    } finally {
      second.proc.kill("SIGTERM");
      await second.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
