import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { harness, harnessWith, OPERATOR_TOKEN } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";

let h: Awaited<ReturnType<typeof harness>>;
let server: Awaited<ReturnType<typeof listen>>;
const dataDir = mkdtempSync(join(tmpdir(), "tenantctl-rollout-"));

function tenantctl(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath, ["--import", "tsx", "src/cli.ts", ...args],
      { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir, TENANTCTL_URL: server.url, OPERATOR_TOKEN } },
      (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  const before = await harness();
  for (const id of ["1", "2"]) await before.send(event(id, "subscription.created"));
  await before.reconciler.idle();
  await before.close();
  // The service restarted with a new version of the program: both stacks would change.
  h = await harnessWith(before.engine, { replicaOf: { db: before.db, pollMs: 60_000 }, programVersion: "p-next" });
  h.reconciler.start();
  h.rollouts.start();
  server = await listen(h.app);
}, 60_000);
afterAll(async () => {
  await server.close();
  await h.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("tenantctl rollout", () => {
  it("plan, start in waves, status of one and of all; a finished rollout cannot be aborted; bad flags are usage errors", async () => {
    const plan = await tenantctl(["rollout", "plan"]);
    expect(plan.stdout).toMatch(/^2 of 2 ready stacks would change/m);
    expect(plan.stdout).toMatch(/^2\s+program: p-test -> p-next\s+1, 2$/m);
    expect((await tenantctl(["rollout", "start", "--max-failures", "many"])).status).toBe(2);
    const start = await tenantctl(["rollout", "start", "--waves", "50%,100%", "--pause", "0"]);
    expect(start.stdout).toContain("rollout 1 started: waves of 1, 1 stacks");
    const deadline = Date.now() + 15_000;
    const state = async () => ((await (await h.asOperator("/v1/rollouts/1")).json()) as { state: string }).state;
    while ((await state()) !== "done" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const status = await tenantctl(["rollout", "status", "1", "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: "done", progress: [{ wave: 1, stacks: { succeeded: 1 } }, { wave: 2, stacks: { succeeded: 1 } }] });
    const one = await tenantctl(["rollout", "status", "1"]);
    expect(one.stdout).toMatch(/^state:\s+done$/m);
    expect(one.stdout).toMatch(/^WAVE\s+SIZE\s+WAITING\s+QUEUED\s+SUCCEEDED\s+FAILED\s+SKIPPED$/m);
    expect((await tenantctl(["rollout", "status"])).stdout).toMatch(/^1\s+done\s+2\/2\s+2/m);
    expect((await tenantctl(["rollout", "abort", "1"])).status).toBe(2);
    expect((await tenantctl(["rollout", "frobnicate"])).status).toBe(2);
  });
});
