import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { event } from "../../support/events.js";
import { harness, OPERATOR_TOKEN } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { tenantctlAt } from "../../support/tenantctl.js";

let h: Awaited<ReturnType<typeof harness>>;
let server: Awaited<ReturnType<typeof listen>>;
/** Runs tenantctl as an operator would, against the service on loopback. */
const { run: tenantctl, dataDir } = tenantctlAt(() => server.url);

beforeAll(async () => {
  h = await harness({ maxAttempts: 1 });
  server = await listen(h.app);
  await h.send(event("1", "subscription.created", { id: "evt-cli-1" }));
  await h.send(event("2", "subscription.created", { plan: { model: "payg" } }));
  await h.reconciler.idle();
});
afterAll(async () => {
  await server.close();
  await h.reconciler.stop();
});

describe("tenantctl against a running service", () => {
  it("list: a table by default, filters, and --json for scripts", async () => {
    const t = await tenantctl(["list"]);
    expect(t.status).toBe(0);
    expect(t.stdout.split("\n")[0]).toMatch(/^ID\s+STACK\s+STATUS\s+PHASE\s+PLAN/);
    expect(t.stdout).toMatch(/^1\s+sub-1\s+active\s+ready\s+prepaid/m);
    const j = await tenantctl(["list", "--plan", "payg", "--json"]);
    expect((JSON.parse(j.stdout) as { subscriptions: Array<{ id: string }> }).subscriptions.map((s) => s.id)).toEqual(["2"]);
  });

  it("show and history: status, outputs, operations, and the stack's updates with their event ids", async () => {
    const show = await tenantctl(["show", "1"]);
    expect(show.stdout).toMatch(/^phase:\s+ready$/m);
    expect(show.stdout).toMatch(/^project id:\s+project-of-sub-1$/m);
    expect(show.stdout).toContain("evt-cli-1");
    const hist = await tenantctl(["history", "1"]);
    expect(hist.stdout).toMatch(/^VERSION\s+KIND\s+RESULT\s+STARTED\s+EVENT/);
    expect(hist.stdout).toMatch(/^1\s+update\s+succeeded\s+\S+\s+evt-cli-1/m);
    const json = JSON.parse((await tenantctl(["history", "1", "--json"])).stdout) as { history: unknown[] };
    expect(json.history).toHaveLength(1);
  });

  it("drift: check, list by state; repair --watch follows the update to its end", async () => {
    h.engine.driftOutside("sub-1", [{ resource: "compute-quota", type: "openstack:compute/quotaSetV2:QuotaSetV2", change: "update", properties: ["cores"] }]);
    const check = await tenantctl(["drift", "check"]);
    expect(check.stdout).toMatch(/^1\s+checked\s+drifted/m);
    expect(check.stdout).toMatch(/^2\s+checked\s+in_sync/m);
    const list = await tenantctl(["drift", "--state", "drifted"]);
    expect(list.stdout).toContain("compute-quota update (cores)");
    const repair = await tenantctl(["drift", "repair", "1", "--watch"]);
    expect(repair.status).toBe(0);
    expect(repair.stdout).toContain("Updating (sub-1)");
    expect(repair.stdout).toMatch(/sub-1 up: succeeded/);
    const after = JSON.parse((await tenantctl(["drift", "check", "1", "--json"])).stdout) as { results: Array<{ state: string }> };
    expect(after.results[0]?.state).toBe("in_sync");
  });

  it("on a terminal, watch draws a progress bar of resources done / total", async () => {
    await h.send(event("3", "subscription.created"));
    await h.reconciler.idle();
    // `script` gives the CLI a pseudo-terminal, as an operator's shell would.
    const cmd = [process.execPath, "--import", "tsx", "src/cli.ts", "watch", "3"].map((a) => `'${a}'`).join(" ");
    const out = await new Promise<string>((resolve) => {
      execFile("script", ["-qec", cmd, "/dev/null"], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir, TENANTCTL_URL: server.url, OPERATOR_TOKEN } }, (_e, stdout) => resolve(stdout));
    });
    expect(out).toContain("sub-3 up [####--------------------] 1/6 project");
    expect(out).toContain("sub-3 up [########################] 6/6 network-quota");
    expect(out).toMatch(/\r/);
    expect(out).toContain("sub-3 up: succeeded");
  });

  it("watch --json prints every progress event; a failed operation exits 1", async () => {
    h.engine.failNext(new EngineFailure("Keystone: 400 bad request\n stderr: details\n", false), "sub-2");
    await h.send(event("2", "subscription.suspended"));
    await h.reconciler.idle();
    const w = await tenantctl(["watch", "2", "--json"]);
    expect(w.status).toBe(1);
    const events = w.stdout.trim().split("\n").map((l) => JSON.parse(l) as { event: string; data: { result?: string } });
    expect(events.at(-1)).toMatchObject({ event: "finished", data: { result: "failed" } });
    // A multi-line error stays on its row of the table.
    const list = await tenantctl(["list"]);
    expect(list.stdout).toMatch(/^2\s+sub-2\s+suspended\s+failed\s+prepaid\s+Keystone: 400 bad request stderr: details$/m);
    const piped = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      // A reader that stops early (| head -1) is not an error.
      const p = execFile("bash", ["-c", `node --import tsx src/cli.ts show 2 | head -1`], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir, TENANTCTL_URL: server.url, OPERATOR_TOKEN } }, (_e, _o, stderr) => resolve({ code: p.exitCode, stderr }));
    });
    expect(piped.stderr).toBe("");
  });

  it("list --phase=ready filters (the = form is a value, not a flag); a mistyped option is refused with the valid ones", async () => {
    const ready = JSON.parse((await tenantctl(["list", "--phase=ready", "--json"])).stdout) as { subscriptions: Array<{ phase: string }> };
    expect(ready.subscriptions.length).toBeGreaterThan(0);
    expect(ready.subscriptions.every((s) => s.phase === "ready")).toBe(true);
    const typo = await tenantctl(["list", "--phse", "ready"]);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain("unknown option --phse for 'list': valid are --phase P");
  });

  it("doctor reports the running service's checks, not this shell's environment (which has no OpenStack credentials)", async () => {
    const d = await tenantctl(["doctor"]);
    expect(d.stdout).toBe("OK    pulumi: pulumi CLI v3.248.0 (test double)\n");
    expect(d.status).toBe(0);
  });

  it("bin/tenantctl.js (npx tenantctl) runs the same CLI from its cached bundle", async () => {
    const run = () => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = execFile(process.execPath, ["bin/tenantctl.js", "list", "--phase=ready"], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir, TENANTCTL_URL: server.url, OPERATOR_TOKEN } }, (_e, stdout, stderr) => resolve({ code: p.exitCode, stdout, stderr }));
    });
    for (const r of [await run(), await run()]) {
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^1\s+sub-1\s+active\s+ready\s+prepaid/m);
    }
  });

  it("show and list print a customer's terminal escapes as text: no title change, no cleared screen", async () => {
    const e = event("7", "subscription.created");
    e.subscription.customer.name = "\u001b]0;owned\u0007\u001b[2JEvil Ltd";
    expect((await h.send(e)).status).toBe(202);
    await h.reconciler.idle();
    for (const args of [["show", "7"], ["list"]]) {
      const out = (await tenantctl(args)).stdout;
      expect(out).not.toContain("\u001b");
      expect(out).not.toContain("\u0007");
    }
    expect((await tenantctl(["show", "7"])).stdout).toContain("\\u001b]0;owned\\u0007\\u001b[2JEvil Ltd <ops@example.com>");
  });

  it("exit codes: 2 for bad usage and 4xx, 3 when the service cannot be reached", async () => {
    expect((await tenantctl(["show"])).status).toBe(2);
    expect((await tenantctl(["watch", "1", "--op", "x"])).status).toBe(2);
    const missing = await tenantctl(["show", "404"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe("tenantctl: 404 subscription 404 not found");
    expect((await tenantctl(["list"], { TENANTCTL_URL: "http://127.0.0.1:9" })).status).toBe(3);
    expect((await tenantctl(["pulumi-env", "--json"])).stdout).toContain("PULUMI_BACKEND_URL");
  });

  it("pulumi-env points at the generated passphrase file, and at none when the passphrase comes from the environment (never printing it)", async () => {
    const generated = JSON.parse((await tenantctl(["pulumi-env", "--json"])).stdout) as Record<string, string>;
    expect(generated.PULUMI_CONFIG_PASSPHRASE_FILE).toBe(join(dataDir, "pulumi-passphrase"));
    const fromEnv = await tenantctl(["pulumi-env"], { PULUMI_CONFIG_PASSPHRASE: "env-passphrase-0123456789" });
    expect(fromEnv.stdout).not.toContain("PULUMI_CONFIG_PASSPHRASE_FILE");
    expect(fromEnv.stdout).not.toContain("env-passphrase-0123456789");
    expect(fromEnv.stdout).toMatch(/PULUMI_CONFIG_PASSPHRASE is set in this environment/);
  });
});
