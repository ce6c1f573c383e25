import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { provisioningReadiness } from "../../../src/provisioning/readiness.js";
import { startService } from "../../../src/server.js";
import { signWebhook } from "../../../src/domain/webhook-signature.js";
import { event } from "../../support/events.js";
import { RecordingEngine } from "../../support/recording-engine.js";

describe("what the service needs before it can provision", () => {
  it("the pulumi CLI is found on PATH when it is installed there, even after the start; missing credentials are said as configured", () => {
    const dir = mkdtempSync(join(tmpdir(), "readiness-"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const ready = provisioningReadiness({ credentialsProblem: null, searchPath: `/nonexistent:${bin}` });
    expect(ready()).toEqual(["the pulumi CLI is not on PATH: stacks cannot be updated"]);
    writeFileSync(join(bin, "pulumi"), "#!/bin/sh\n");
    expect(ready()).toEqual(["the pulumi CLI is not on PATH: stacks cannot be updated"]); // not executable
    chmodSync(join(bin, "pulumi"), 0o755);
    expect(ready()).toEqual([]);
    expect(provisioningReadiness({ credentialsProblem: "no OpenStack admin credentials", searchPath: bin })()).toEqual(["no OpenStack admin credentials"]);
  });

  it("/healthz tells operators how many purchases wait for configuration", async () => {
    const secret = "whsec-readiness-0123456789";
    const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "readiness-svc-")), PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: secret, OPERATOR_TOKEN: "op-token-readiness-0123456789", LOG_LEVEL: "error" });
    const svc = await startService(config, { engine: new RecordingEngine(), readiness: () => ["the pulumi CLI is not on PATH: stacks cannot be updated"] });
    try {
      const raw = JSON.stringify(event("61", "subscription.created"));
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await fetch(`${svc.url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(secret, ts, raw) } });
      expect(res.status).toBe(202);
      await svc.reconciler.idle();
      const health = (await (await fetch(`${svc.url}/healthz`, { headers: { authorization: "Bearer op-token-readiness-0123456789" } })).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: "degraded", waitingForConfiguration: 1, missing: expect.arrayContaining(["the pulumi CLI is not on PATH: stacks cannot be updated"]) });
    } finally {
      await svc.close();
    }
  }, 60_000);
});
