import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_QUOTA_DEFAULTS } from "../../../src/domain/quota.js";
import type { TenantSettings } from "../../../src/domain/tenant-spec.js";
import { createLogger, makeRedactor } from "../../../src/log.js";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { RolloutRunner } from "../../../src/provisioning/rollout-runner.js";
import type { RolloutDetail, RolloutPlan } from "../../../src/api/rollout-schemas.js";
import type { z } from "zod";
import { event, PREPAID } from "../../support/events.js";
import { harness, harnessWith } from "../../support/harness.js";
import { SETTINGS, TWO_TARGETS } from "../../support/settings.js";

/*
 * Every test here fails on the code before rollouts: there is no /v1/rollouts API (404), and nothing
 * records what a stack was updated with.
 */

type H = Awaited<ReturnType<typeof harness>>;
const open: H[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

/** 100 key pairs become 20: a quota field plans do not decide, so every tenant changes. */
const FEWER_KEY_PAIRS: TenantSettings = { ...SETTINGS, quotaDefaults: { ...DEFAULT_QUOTA_DEFAULTS, compute: { ...DEFAULT_QUOTA_DEFAULTS.compute, keyPairs: 20 } } };
const IDS = Array.from({ length: 10 }, (_, i) => `s${String(i).padStart(2, "0")}`);

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Ten ready tenants made with the default settings, then the service restarted with fewer key pairs. */
async function fleetThenChangedDefaults(o: { concurrency?: number; bulkSlots?: number } = {}): Promise<H> {
  const before = await harness();
  for (const id of IDS) await before.send(event(id, "subscription.created"));
  await before.reconciler.idle();
  await before.close();
  return restarted(before, FEWER_KEY_PAIRS, o);
}

/** A new service process on the same database and backend (the engine double keeps the stacks). */
async function restarted(prev: H, settings: TenantSettings, o: { concurrency?: number; bulkSlots?: number } = {}): Promise<H> {
  const h = await harnessWith(prev.engine, { replicaOf: { db: prev.db, pollMs: 60_000 }, settings, ...o });
  open.push(h);
  h.engine.calls.length = 0;
  h.reconciler.start();
  h.rollouts.start();
  return h;
}

const json = async <T>(res: Response | Promise<Response>, status = 200): Promise<T> => {
  const r = await res;
  expect(r.status, await r.clone().text()).toBe(status);
  return (await r.json()) as T;
};
const post = (h: H, path: string, body?: unknown) =>
  h.asOperator(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }) });
const detail = (h: H, id: number) => json<z.infer<typeof RolloutDetail>>(h.asOperator(`/v1/rollouts/${id}`));
const rolloutUps = (h: H) => h.engine.calls.filter((c) => c.op === "up" && c.message?.startsWith("rollout ")).map((c) => c.stack.slice(4));

describe("fleet rollouts", () => {
  it("a plan after a quota-defaults change shows every ready stack changing in one line; before it, none", async () => {
    const h0 = await harness();
    open.push(h0);
    for (const id of IDS) await h0.send(event(id, "subscription.created"));
    await h0.reconciler.idle();
    expect(await json<z.infer<typeof RolloutPlan>>(post(h0, "/v1/rollouts/plan"))).toMatchObject({ total: 10, changing: 0, groups: [] });
    const h = await restarted(h0, FEWER_KEY_PAIRS);
    const plan = await json<z.infer<typeof RolloutPlan>>(post(h, "/v1/rollouts/plan"));
    expect(plan).toMatchObject({ total: 10, changing: 10, groups: [{ changes: ["quotas.compute.keyPairs: 100 -> 20"], count: 10 }] });
    // Nothing happened silently: no update ran, and the gauge says what differs.
    expect(h.engine.calls.filter((c) => c.op === "up")).toHaveLength(0);
    expect(await h.metrics.text()).toMatch(/^tenants_stacks_differing_from_declaration 10$/m);
  });

  it("a new program version is a change of every stack too", async () => {
    const h0 = await harness();
    open.push(h0);
    for (const id of IDS.slice(0, 3)) await h0.send(event(id, "subscription.created"));
    await h0.reconciler.idle();
    const h = await harnessWith(h0.engine, { replicaOf: { db: h0.db, pollMs: 60_000 }, programVersion: "p-next" });
    open.push(h);
    expect(await json<z.infer<typeof RolloutPlan>>(post(h, "/v1/rollouts/plan"))).toMatchObject({ changing: 3, groups: [{ changes: ["program: p-test -> p-next"], count: 3 }] });
  });

  it("a rollout limited to a target plans and updates only that target's stacks", async () => {
    const h0 = await harness({ settings: TWO_TARGETS });
    open.push(h0);
    for (const [i, id] of IDS.slice(0, 6).entries()) await h0.send(event(id, "subscription.created", { plan: { ...PREPAID, ...(i % 2 ? { target: "two" } : {}) } }));
    await h0.reconciler.idle();
    const h = await restarted(h0, { ...TWO_TARGETS, quotaDefaults: FEWER_KEY_PAIRS.quotaDefaults });
    expect(await json<z.infer<typeof RolloutPlan>>(post(h, "/v1/rollouts/plan?target=two"))).toMatchObject({ total: 3, changing: 3 });
    const started = await json<{ id: number; waveSizes: number[] }>(post(h, "/v1/rollouts", { waves: ["100%"], pauseSeconds: 0, target: "two" }), 201);
    expect(started.waveSizes).toEqual([3]);
    await until("the rollout done", async () => (await detail(h, started.id)).state === "done");
    expect(rolloutUps(h).sort()).toEqual(["s01", "s03", "s05"]);
    expect(await json<z.infer<typeof RolloutPlan>>(post(h, "/v1/rollouts/plan"))).toMatchObject({ total: 6, changing: 3 });
  });

  it("start: waves applied in order with a pause between them; each stack's history names the rollout and the change", async () => {
    const h = await fleetThenChangedDefaults();
    const started = await json<{ id: number; waveSizes: number[] }>(post(h, "/v1/rollouts", { waves: ["10%", "100%"], pauseSeconds: 1 }), 201);
    expect(started.waveSizes).toEqual([1, 9]);
    await until("the pause after the canary", async () => (await detail(h, started.id)).state === "pausing");
    expect(rolloutUps(h)).toEqual(["s00"]);
    // A second rollout while this one runs: refused.
    expect((await post(h, "/v1/rollouts", {})).status).toBe(409);
    await until("the rollout done", async () => (await detail(h, started.id)).state === "done");
    expect(rolloutUps(h)[0]).toBe("s00");
    expect(rolloutUps(h).slice(1).sort()).toEqual(IDS.slice(1));
    const done = await detail(h, started.id);
    expect(done.progress).toEqual([
      { wave: 1, size: 1, stacks: { waiting: 0, queued: 0, succeeded: 1, failed: 0, skipped: 0 } },
      { wave: 2, size: 9, stacks: { waiting: 0, queued: 0, succeeded: 9, failed: 0, skipped: 0 } },
    ]);
    const [last] = await json<{ history: Array<{ message: string }> }>(h.asOperator("/v1/subscriptions/s05/history")).then((b) => b.history);
    expect(last?.message).toMatch(/^rollout 1 by root wave 2\/2: quotas\.compute\.keyPairs: 100 -> 20 \(subscription s05, generation 2\)$/);
    expect(h.engine.callsFor("sub-s05").at(-1)?.spec?.quotas.compute.keyPairs).toBe(20);
    // Applied: nothing differs any more.
    expect(await json<z.infer<typeof RolloutPlan>>(post(h, "/v1/rollouts/plan"))).toMatchObject({ changing: 0 });
    expect(await h.metrics.text()).toMatch(/^tenants_rollout_stacks\{rollout="1",state="succeeded"\} 10$/m);
  });

  it("failures past the budget halt it before the next wave; resume (with a larger budget) goes on", async () => {
    const h = await fleetThenChangedDefaults();
    h.engine.failNext(new EngineFailure("Expected HTTP response code [200] ... returned 400: quota below usage", false), "sub-s02");
    const { id } = await json<{ id: number; waveSizes: number[] }>(post(h, "/v1/rollouts", { waves: ["10%", "50%", "100%"], maxFailures: 0, pauseSeconds: 0 }), 201);
    await until("the halt", async () => (await detail(h, id)).state === "halted");
    const halted = await detail(h, id);
    expect(halted.reason).toContain("1 stacks failed, more than the budget of 0");
    expect(halted.failures).toEqual([{ subscription: "s02", wave: 2, reason: expect.stringContaining("quota below usage") }]);
    expect(halted.progress[2]?.stacks).toMatchObject({ waiting: 5, queued: 0, succeeded: 0 });
    expect(rolloutUps(h).sort()).toEqual(["s00", "s01", "s02", "s03", "s04"]);
    // The same budget would halt again at once: refused with why.
    expect((await post(h, `/v1/rollouts/${id}/resume`)).status).toBe(422);
    await json(post(h, `/v1/rollouts/${id}/resume`, { maxFailures: 1 }));
    await until("the rollout done", async () => (await detail(h, id)).state === "done");
    expect((await detail(h, id)).progress[2]?.stacks).toMatchObject({ succeeded: 5 });
    expect(rolloutUps(h).sort()).toEqual(IDS);
  });

  it("abort skips the stacks not yet queued", async () => {
    const h = await fleetThenChangedDefaults();
    const { id } = await json<{ id: number }>(post(h, "/v1/rollouts", { waves: ["10%", "100%"], pauseSeconds: 3600 }), 201);
    await until("the pause after the canary", async () => (await detail(h, id)).state === "pausing");
    expect((await json<{ state: string }>(post(h, `/v1/rollouts/${id}/abort`))).state).toBe("aborted");
    const aborted = await detail(h, id);
    expect(aborted.progress[1]?.stacks).toMatchObject({ skipped: 9, waiting: 0, queued: 0 });
    await h.rollouts.tick();
    await h.reconciler.idle();
    expect(rolloutUps(h)).toEqual(["s00"]);
    // Finished: a new rollout may start (of the nine still differing).
    expect((await json<{ waveSizes: number[] }>(post(h, "/v1/rollouts", { waves: ["100%"] }), 201)).waveSizes).toEqual([9]);
  });

  it("an operator pauses a rollout between waves and resumes it; the history and the audit trail name who", async () => {
    const h = await fleetThenChangedDefaults();
    const { id } = await json<{ id: number }>(post(h, "/v1/rollouts", { waves: ["10%", "100%"], pauseSeconds: 3600 }), 201);
    await until("the pause after the canary", async () => (await detail(h, id)).state === "pausing");
    const paused = await json<{ state: string; reason: string; startedBy: string }>(post(h, `/v1/rollouts/${id}/pause`));
    expect(paused).toMatchObject({ state: "halted", reason: "paused by root", startedBy: "root" });
    expect((await post(h, `/v1/rollouts/${id}/pause`)).status).toBe(409);
    await h.rollouts.tick();
    expect((await detail(h, id)).progress[1]?.stacks).toMatchObject({ waiting: 9, queued: 0 });
    // Resumed: moving again (the pause between waves starts over before the next wave).
    await json(post(h, `/v1/rollouts/${id}/resume`));
    await until("the rollout moving", async () => ["running", "pausing"].includes((await detail(h, id)).state));
    expect(rolloutUps(h)).toEqual(["s00"]);
    const trail = await json<{ items: Array<{ actor: string; action: string }> }>(h.asOperator("/v1/audit"));
    expect(trail.items.filter((i) => i.action.startsWith("rollout.")).map((i) => `${i.actor} ${i.action}`)).toEqual(["operator:root rollout.resume", "operator:root rollout.pause", "operator:root rollout.pause", "operator:root rollout.start"]);
  });

  it("a restart mid-rollout resumes it from the database", async () => {
    const h = await fleetThenChangedDefaults();
    const { id } = await json<{ id: number }>(post(h, "/v1/rollouts", { waves: ["10%", "100%"], pauseSeconds: 1 }), 201);
    await until("the pause after the canary", async () => (await detail(h, id)).state === "pausing");
    await h.close();
    open.splice(open.indexOf(h), 1);
    const again = await restarted(h, FEWER_KEY_PAIRS);
    await until("the rollout done after the restart", async () => (await detail(again, id)).state === "done", 20_000);
    expect((await detail(again, id)).progress.map((w) => w.stacks.succeeded)).toEqual([1, 9]);
    expect(rolloutUps(again).sort()).toEqual(IDS.slice(1));
  });

  it("a customer's purchase during a rollout is not delayed: it starts while the rollout's updates hold the bulk slots", async () => {
    const h = await fleetThenChangedDefaults({ concurrency: 2, bulkSlots: 1 });
    const releases = IDS.map((id) => h.engine.block(`sub-${id}`));
    const { id } = await json<{ id: number }>(post(h, "/v1/rollouts", { waves: ["100%"] }), 201);
    await until("the rollout's first update under way", () => rolloutUps(h).length === 1);
    await h.send(event("p1", "subscription.created"));
    await until("the purchase applied", async () => (await h.store.get("p1"))?.phase === "ready");
    expect(rolloutUps(h)).toHaveLength(1);
    for (const r of releases) r();
    await until("the rollout done", async () => (await detail(h, id)).state === "done");
    expect((await detail(h, id)).progress[0]?.stacks.succeeded).toBe(10);
  });

  it("a cancellation during a rollout skips the stack; a destroy clears its declaration", async () => {
    const h = await fleetThenChangedDefaults();
    const { id } = await json<{ id: number }>(post(h, "/v1/rollouts", { waves: ["10%", "100%"], pauseSeconds: 3600 }), 201);
    await until("the pause after the canary", async () => (await detail(h, id)).state === "pausing");
    await h.send(event("s07", "subscription.cancelled"));
    await h.reconciler.idle();
    const [row] = await h.db.query<{ hash: string | null }>("SELECT declared_hash AS hash FROM subscriptions WHERE id = 's07'");
    expect(row?.hash).toBeNull();
    await h.rolloutStore.update(id, { pauseUntil: new Date(0).toISOString() });
    await until("the rollout done", async () => (await detail(h, id)).state === "done");
    const done = await detail(h, id);
    expect(done.progress[1]?.stacks).toMatchObject({ succeeded: 8, skipped: 1 });
    expect(rolloutUps(h)).not.toContain("s07");
  });
});

describe("the gauge of stacks differing from the declaration", () => {
  // Fails on the code before: every scrape while a plan was being computed started another one (each
  // holding every ready stack's declarations), so a scrape a second over a slow plan of 10,000 stacks
  // piled up plans (bench/scale.ts: 216 MiB of heap in use right after 10,000 purchases).
  it("computes one plan at a time however many scrapes come while it runs, and reads the fleet a page at a time", async () => {
    const h = await fleetThenChangedDefaults();
    const logs: string[] = [];
    let reads = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const runner = new RolloutRunner({
      rollouts: h.rolloutStore, locks: h.db, settings: FEWER_KEY_PAIRS, programVersion: "p-test", kickReconciler: () => {},
      log: createLogger({ redact: makeRedactor([]), write: (l) => logs.push(l) }),
      declarations: {
        async readyDeclarations(after, limit) {
          reads++;
          await gate;
          return h.store.readyDeclarations(after, limit);
        },
      },
    });
    const scrapes = Array.from({ length: 5 }, () => runner.differingCount());
    await new Promise((r) => setTimeout(r, 20));
    release();
    expect(await Promise.all(scrapes)).toEqual([10, 10, 10, 10, 10]);
    // Ten ready stacks fit one page: one read for all five scrapes.
    expect(reads).toBe(1);
    // Fresh for ten minutes: the next scrape reads nothing.
    expect(await runner.differingCount()).toBe(10);
    expect(reads).toBe(1);
  });
});
