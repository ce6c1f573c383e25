import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DEFAULT_QUOTA_DEFAULTS } from "../../src/domain/quota.js";
import { quotaShow, serviceOfThisFile } from "../support/e2e-service.js";
import { event, PREPAID } from "../support/events.js";
import { adminEnv, cliJson } from "../support/testcloud.js";

/**
 * Crashes and fleet changes on the real engine: `kill -9` of the service during a real `pulumi up`, a create
 * whose answer was lost with every process that could have recorded it, and a rollout of a quota-defaults
 * change applied in waves to several real stacks.
 */
const run = Date.now().toString(36);
const svc = serviceOfThisFile();

/** Keystone's own answer: the ids of every project and user with that name. */
const named = (name: string) => ({
  projects: cliJson<Array<{ ID: string }>>("openstack", ["project", "list", "--domain", "default"], adminEnv()).filter((p) => (p as unknown as { Name: string }).Name === name).map((p) => p.ID),
  users: cliJson<Array<{ ID: string; Name: string }>>("openstack", ["user", "list", "--domain", "default"], adminEnv()).filter((u) => u.Name === name).map((u) => u.ID),
});

/** Every process below `pid` (the engine host, the `pulumi` CLI, its provider plugin), deepest last. */
function descendants(pid: number): number[] {
  const out = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" });
  const children = new Map<number, number[]>();
  for (const line of out.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number) as [number, number];
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const all: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      all.push(c);
      walk(c);
    }
  };
  walk(pid);
  return all;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("crashes during real updates", () => {
  it("kill -9 of the service during a real `pulumi up`: after a restart the update is applied once, one project and one user", async () => {
    const id = `e2ek${run}`;
    await svc.send(event(id, "subscription.created", { plan: { ...PREPAID, cores: 2, ramGb: 4 } }));
    const projectId = (await svc.settle(id)).outputs?.projectId as string;
    await svc.send(event(id, "subscription.modified", { plan: { ...PREPAID, cores: 5, ramGb: 4 } }));
    await until("the update to begin", async () => (await svc.subscription(id)).phase === "applying");
    await svc.kill("SIGKILL");
    await svc.start();
    await svc.settle(id);
    expect(quotaShow(projectId)).toMatchObject({ cores: 5, ram: 4096 });
    expect(named(`sub-${id}`)).toEqual({ projects: [projectId], users: [expect.any(String)] });
  });

  it("a create whose answer died with the service, its engine host and `pulumi`: the retry adopts what Keystone made (no 409), one project and one user", async () => {
    const id = `e2ea${run}`;
    await svc.send(event(id, "subscription.created", { plan: { ...PREPAID, cores: 2, ramGb: 4 } }));
    // The moment Keystone has the project, everything that could record it dies at once.
    await until("Keystone to have the project", async () => named(`sub-${id}`).projects.length > 0, 300_000);
    const pid = svc.proc?.pid as number;
    const tree = descendants(pid);
    for (const p of [pid, ...tree]) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await svc.kill("SIGKILL");
    await svc.start();
    const sub = await svc.settle(id);
    const after = named(`sub-${id}`);
    expect(after.projects).toEqual([sub.outputs?.projectId]);
    expect(after.users).toEqual([sub.outputs?.userId]);
    expect(quotaShow(sub.outputs?.projectId as string)).toMatchObject({ cores: 2, ram: 4096 });
  });
});

describe("a fleet rollout on real stacks", () => {
  it("a quota-defaults change is planned, applied in waves to every ready stack, and named in each stack's history", async () => {
    const ids = [1, 2, 3].map((n) => `e2ef${run}-${n}`);
    for (const id of ids) await svc.send(event(id, "subscription.created", { plan: { ...PREPAID, cores: 1, ramGb: 1, diskGb: 10, floatingIps: 1 } }));
    const projects = [];
    for (const id of ids) projects.push((await svc.settle(id)).outputs?.projectId as string);

    // The operator changes what plans do not decide, and restarts the service with it.
    const defaultsFile = join(svc.root, "quota-defaults.json");
    writeFileSync(defaultsFile, JSON.stringify({ ...DEFAULT_QUOTA_DEFAULTS, compute: { ...DEFAULT_QUOTA_DEFAULTS.compute, keyPairs: 7 } }));
    await svc.kill();
    await svc.start({ QUOTA_DEFAULTS_FILE: defaultsFile });

    const plan = z.object({ changing: z.number().optional(), groups: z.array(z.object({ changes: z.array(z.string()) }).passthrough()) }).passthrough()
      .parse(await (await svc.post("/v1/rollouts/plan")).json());
    expect(JSON.stringify(plan.groups)).toContain("quotas.compute.keyPairs: 100 -> 7");
    const started = await svc.post("/v1/rollouts", { waves: ["34%", "100%"], maxFailures: 0, pauseSeconds: 0 });
    expect(started.status).toBe(201);
    const rolloutId = (await started.json() as { id: number }).id;
    const done = await until("the rollout to end", async () => {
      const r = await svc.get<{ state: string; waveSizes: number[]; reason: string | null }>(`/v1/rollouts/${rolloutId}`);
      if (r.state === "halted" || r.state === "aborted") throw new Error(`rollout ${r.state}: ${r.reason}`);
      return r.state === "done" ? r : null;
    }, 600_000);
    expect(done.waveSizes.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
    for (const projectId of projects) expect(quotaShow(projectId)).toMatchObject({ "key-pairs": 7 });
    for (const id of ids) {
      const history = await svc.get<{ history: Array<{ message: string }> }>(`/v1/subscriptions/${id}/history`);
      expect(history.history[0]?.message).toMatch(new RegExp(`^rollout ${rolloutId} by root wave [12]/2`));
    }
    for (const id of ids) await svc.send(event(id, "subscription.cancelled"));
    for (const id of ids) await svc.settle(id, "cancelled");
  });
});
