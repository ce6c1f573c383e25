import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/domain/webhook-signature.js";
import { loadConfig } from "../../src/config.js";
import { startService, type RunningService } from "../../src/server.js";
import { event } from "../support/events.js";

/** Runs only where the Pulumi CLI (with the openstack plugin) and OpenStack admin credentials exist. */
function why(): string | null {
  try {
    execFileSync("pulumi", ["version"], { stdio: "ignore" });
  } catch {
    return "the pulumi CLI is not on PATH";
  }
  if (!process.env.OS_AUTH_URL && !process.env.OS_CLOUD) return "no OpenStack admin credentials (OS_AUTH_URL or OS_CLOUD)";
  return null;
}
const skipReason = why();
if (skipReason) console.log(`e2e suite skipped: ${skipReason}; it runs the real Automation API where both are present`);

describe.skipIf(skipReason !== null)("end to end with the real Automation API and a real cloud", () => {
  const secret = "e2e-webhook-secret-0123456789";
  let svc: RunningService;
  let operatorToken: string;
  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "tenants-e2e-"));
    const config = loadConfig({ ...process.env, DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: secret });
    operatorToken = config.operatorToken;
    svc = await startService(config);
  });
  afterAll(async () => svc?.close());

  const send = async (body: unknown) => {
    const raw = JSON.stringify(body);
    const ts = String(Math.floor(Date.now() / 1000));
    return fetch(`${svc.url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(secret, ts, raw) } });
  };
  const settle = async (id: string) => {
    const deadline = Date.now() + 600_000;
    for (;;) {
      await svc.reconciler.idle();
      const sub = await svc.store.get(id);
      if (sub && sub.phase !== "pending" && sub.phase !== "applying") return sub;
      if (Date.now() > deadline) throw new Error(`subscription ${id} did not settle`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  it("creates, suspends and cancels a tenant, and the stack history names every event", async () => {
    const id = `e2e${Date.now().toString(36)}`;
    const created = await send(event(id, "subscription.created"));
    expect(created.status).toBe(202);
    const { credentialsToken } = (await created.json()) as { credentialsToken: string };
    expect((await settle(id)).phase).toBe("ready");
    const creds = (await (await fetch(`${svc.url}/v1/subscriptions/${id}/credentials`, { headers: { authorization: `Bearer ${credentialsToken}` } })).json()) as Record<string, string>;
    const token = await fetch(`${creds.authUrl}/auth/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ auth: { identity: { methods: ["password"], password: { user: { name: creds.username, domain: { id: creds.userDomainId }, password: creds.password } } }, scope: { project: { id: creds.projectId } } } }),
    });
    expect(token.status).toBe(201);
    // A refresh preview of a stack just applied finds the cloud as declared.
    const op = { authorization: `Bearer ${operatorToken}` };
    const drift = (await (await fetch(`${svc.url}/v1/subscriptions/${id}/drift/check`, { method: "POST", headers: op })).json()) as { results: Array<{ state?: string }> };
    expect(drift.results[0]?.state).toBe("in_sync");
    // The finished operation's progress reached every tenant resource.
    const detail = (await (await fetch(`${svc.url}/v1/subscriptions/${id}`, { headers: op })).json()) as { operations: Array<{ id: number }> };
    const sse = await (await fetch(`${svc.url}/v1/subscriptions/${id}/operations/${detail.operations[0]?.id}/events`, { headers: op })).text();
    expect(sse).toMatch(/"done":6,"total":6/);
    await send(event(id, "subscription.cancelled"));
    expect((await settle(id)).phase).toBe("cancelled");
    const history = (await (await fetch(`${svc.url}/v1/subscriptions/${id}/history`, { headers: { authorization: `Bearer ${operatorToken}` } })).json()) as { history: Array<{ message: string }> };
    expect(history.history.map((h) => h.message.split(" ")[1])).toEqual(["subscription.cancelled", "subscription.created"]);
  });
});
