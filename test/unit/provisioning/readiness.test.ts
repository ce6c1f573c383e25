import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { provisioningReadiness } from "../../../src/provisioning/readiness.js";
import { startService } from "../../../src/server.js";
import { signWebhook } from "../../../src/domain/webhook-signature.js";
import { event } from "../../support/events.js";
import { projectDir } from "../../support/project-dir.js";
import { RecordingEngine } from "../../support/recording-engine.js";

/** A purchase over real HTTP, signed as the generic webhook wants it. */
function sendSigned(url: string, secret: string, body: unknown): Promise<Response> {
  const raw = JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  return fetch(`${url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(secret, ts, raw) } });
}

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
      expect((await sendSigned(svc.url, secret, event("61", "subscription.created"))).status).toBe(202);
      await svc.reconciler.idle();
      const health = (await (await fetch(`${svc.url}/healthz`, { headers: { authorization: "Bearer op-token-readiness-0123456789" } })).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: "degraded", waitingForConfiguration: 1, missing: expect.arrayContaining(["the pulumi CLI is not on PATH: stacks cannot be updated"]) });
    } finally {
      await svc.close();
    }
  }, 60_000);
});

/**
 * A stand-in `pulumi` that answers what the engine's check asks: `version`, and `plugin ls --json` as the
 * real CLI prints it (an array of {name, kind, version}: pkg/cmd/pulumi/plugin/plugin_ls.go), listing the
 * OpenStack provider once the file `installed` exists beside it. Every other command fails (no stacks are
 * updated here) after appending its arguments to `calls`.
 */
function standInCli(dir: string): string {
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "pulumi"),
    `#!/bin/sh
case "$1 $2" in
  "version "*) echo v3.248.0; exit 0 ;;
  "plugin ls") if [ -e "${dir}/installed" ]; then echo '[{"name":"openstack","kind":"resource","version":"3.15.2"}]'; else echo '[]'; fi; exit 0 ;;
esac
echo "$*" >> "${dir}/calls"
echo "error: stand-in" >&2
exit 255
`,
  );
  chmodSync(join(bin, "pulumi"), 0o755);
  return bin;
}

describe("an engine that lacks its provider plugin", () => {
  it("holds purchases as waiting for configuration, says why in /healthz, and lets them go on once the plugin is installed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "readiness-plugin-"));
    const bin = standInCli(dir);
    const secret = "whsec-readiness-plugin-0123456789";
    const token = "op-token-readiness-plugin-0123456789";
    const config = loadConfig({
      DATA_DIR: join(dir, "data"), PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: secret, OPERATOR_TOKEN: token, LOG_LEVEL: "error",
      PATH: `${bin}:${process.env.PATH}`, HOME: dir, PULUMI_PROGRAM: "inline", PULUMI_WORK_DIR: projectDir(),
      // Credentials as configured (nothing listens there: the start's cloud check fails in the background).
      OS_AUTH_URL: "http://127.0.0.1:9/v3", OS_USERNAME: "admin", OS_PASSWORD: "pw-readiness-0123456789", OS_PROJECT_NAME: "admin", OS_USER_DOMAIN_NAME: "Default", OS_PROJECT_DOMAIN_NAME: "Default",
    });
    const svc = await startService(config, { engineCheckMs: 200 });
    try {
      expect((await sendSigned(svc.url, secret, event("62", "subscription.created"))).status).toBe(202);
      await svc.reconciler.idle();
      const waiting = await svc.store.get("62");
      expect(waiting).toMatchObject({ phase: "waiting", lastError: expect.stringMatching(/^waiting for configuration: the OpenStack provider plugin \(resource openstack v3\.15\.2\) is not installed/) });
      expect(existsSync(join(dir, "calls"))).toBe(false); // no stack operation was tried
      const health = (await (await fetch(`${svc.url}/healthz`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: "degraded", waitingForConfiguration: 1, missing: expect.arrayContaining([expect.stringMatching(/^the OpenStack provider plugin/)]) });

      // The operator installs the plugin; a scan asks the engine again, the next one finds it gone from the list.
      writeFileSync(join(dir, "installed"), "");
      const deadline = Date.now() + 60_000;
      while ((await svc.store.get("62"))?.phase === "waiting" && Date.now() < deadline) {
        await svc.reconciler.scan();
        await svc.reconciler.idle();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await svc.store.get("62"))?.phase).not.toBe("waiting");
      // The purchase went on to the engine: the stand-in CLI was asked to make the stack, and its refusal is the error.
      expect(readFileSync(join(dir, "calls"), "utf8")).toMatch(/^stack init sub-62 /m);
      expect((await svc.store.get("62"))?.lastError).toMatch(/stand-in/);
    } finally {
      await svc.close();
    }
  }, 90_000);
});
