import { spawn, spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { event, PREPAID } from "../../support/events.js";
import { harness } from "../../support/harness.js";

let h: Awaited<ReturnType<typeof harness>>;
beforeEach(async () => {
  h = await harness({ concurrency: 3 });
});
afterEach(async () => {
  await h.reconciler.stop();
});

describe("reconciling subscriptions with their stacks", () => {
  it("created/suspended/resumed are stack updates; cancelled destroys and keeps the history", async () => {
    await h.send(event("42", "subscription.created"));
    await h.reconciler.idle();
    await h.send(event("42", "subscription.suspended"));
    await h.reconciler.idle();
    expect(h.engine.calls.at(-1)?.spec?.enabled).toBe(false);
    await h.send(event("42", "subscription.resumed"));
    await h.reconciler.idle();
    expect(h.engine.calls.at(-1)?.spec?.enabled).toBe(true);
    await h.send(event("42", "subscription.cancelled"));
    await h.reconciler.idle();
    expect(h.engine.calls.map((c) => c.op)).toEqual(["up", "up", "up", "destroy"]);
    expect((await h.store.get("42"))?.phase).toBe("cancelled");
    const history = await h.engine.history("sub-42");
    expect(history.map((x) => x.message.split(" ")[1])).toEqual([
      "subscription.cancelled", "subscription.resumed", "subscription.suspended", "subscription.created",
    ]);
  });

  it("switching a live subscription prepaid → PAYG → prepaid updates its quotas through the stack", async () => {
    await h.send(event("42", "subscription.created", { plan: { ...PREPAID, cores: 8 } }));
    await h.reconciler.idle();
    await h.send(event("42", "subscription.modified", { plan: { model: "payg" } }));
    await h.reconciler.idle();
    await h.send(event("42", "subscription.modified", { plan: { ...PREPAID, cores: 2 } }));
    await h.reconciler.idle();
    const ups = h.engine.callsFor("sub-42");
    expect(ups.map((c) => c.spec?.quotas.compute.cores)).toEqual([8, 64, 2]); // 64 = PLAN_MAX_CORES, the PAYG ceiling
    expect(ups.map((c) => c.spec?.tags[2])).toEqual(["plan:prepaid", "plan:payg", "plan:prepaid"]);
  });

  it("events arriving during an operation wait, then the newest desired state is applied once", async () => {
    const release = h.engine.block("sub-42");
    await h.send(event("42", "subscription.created"));
    // The first operation is under way (held by the engine) before the next events arrive.
    while (h.engine.callsFor("sub-42").length === 0) await new Promise((r) => setTimeout(r, 2));
    for (const cores of [10, 12, 14]) await h.send(event("42", "subscription.modified", { plan: { ...PREPAID, cores } }));
    release();
    await h.reconciler.idle();
    const ups = h.engine.callsFor("sub-42");
    expect(ups).toHaveLength(2);
    expect(ups[1]?.spec?.quotas.compute.cores).toBe(14);
    expect(h.engine.maxConcurrentPerStack).toBe(1);
    expect(await h.store.get("42")).toMatchObject({ phase: "ready", generation: 4, appliedGeneration: 4 });
  });

  it("different subscriptions run in parallel, up to the configured limit", async () => {
    const releases = ["a", "b", "c", "d", "e"].map((id) => h.engine.block(`sub-${id}`));
    for (const id of ["a", "b", "c", "d", "e"]) await h.send(event(id, "subscription.created"));
    // Three start (with a deadline), and no fourth while they are held.
    for (let i = 0; i < 400 && h.engine.calls.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    expect(h.engine.calls).toHaveLength(3);
    for (const r of releases) r();
    await h.reconciler.idle();
    expect(h.engine.calls).toHaveLength(5);
    expect(h.engine.maxConcurrentOverall).toBe(3);
  });

  it("a transient failure (stack locked) is retried with backoff and then succeeds", async () => {
    h.engine.failNext(new EngineFailure("the stack is currently locked by 1 lock(s)", true));
    await h.send(event("42", "subscription.created"));
    await h.reconciler.idle();
    expect(h.engine.calls).toHaveLength(2);
    expect((await h.store.get("42"))?.phase).toBe("ready");
  });

  it("a permanent failure leaves the subscription failed with the reason; the next event resumes it", async () => {
    h.engine.failNext(new EngineFailure("Expected HTTP response code [201] ... returned 400: invalid role", false));
    await h.send(event("42", "subscription.created"));
    await h.reconciler.idle();
    expect(await h.store.get("42")).toMatchObject({ phase: "failed", lastError: expect.stringContaining("invalid role") });
    expect(h.engine.calls).toHaveLength(1);
    await h.send(event("42", "subscription.modified", { plan: { ...PREPAID, cores: 4 } }));
    await h.reconciler.idle();
    expect(await h.store.get("42")).toMatchObject({ phase: "ready", lastError: null });
  });

  it("transient failures give up after the configured attempts and say why", async () => {
    for (let i = 0; i < 3; i++) h.engine.failNext(new EngineFailure("503 Service Unavailable", true));
    await h.send(event("42", "subscription.created"));
    await h.reconciler.idle();
    expect(h.engine.calls).toHaveLength(3);
    expect(await h.store.get("42")).toMatchObject({ phase: "failed", lastError: "503 Service Unavailable" });
    // The queue did the retrying: three attempts of one job, then the dead letters.
    const dead = (await (await h.asOperator("/v1/dead-letters")).json()) as { deadLetters: Array<Record<string, unknown>> };
    expect(dead.deadLetters).toMatchObject([{ subscription: "42", error: "503 Service Unavailable", attempts: 3 }]);
    const ops = await h.store.operations("42");
    expect(ops.map((o) => o.error)).toEqual(["503 Service Unavailable", "503 Service Unavailable (will retry)", "503 Service Unavailable (will retry)"]);
  });

  it("a client following an operation that fails transiently is told which attempt comes next, and when", async () => {
    h.engine.failNext(new EngineFailure("503 Service Unavailable", true));
    await h.send(event("42", "subscription.created"));
    await h.reconciler.idle();
    const [second, first] = await h.store.operations("42");
    const stream = h.progress.follow(first!.id, 0, () => {});
    // The harness's queue retries at once (back-off 0); the stream ends with the retry, then the result.
    expect(stream?.backlog.slice(-2).map((i) => ({ type: i.type, data: i.data }))).toEqual([
      { type: "retry", data: { attempt: 2, delayMs: 0, error: "503 Service Unavailable" } },
      { type: "finished", data: expect.objectContaining({ result: "failed", error: "503 Service Unavailable (will retry)" }) },
    ]);
    expect(second).toMatchObject({ result: "succeeded" });
  });

  it("a permanent failure is dead-lettered at once, without retries", async () => {
    h.engine.failNext(new EngineFailure("400 Bad Request: invalid quota field", false));
    await h.send(event("43", "subscription.created"));
    await h.reconciler.idle();
    expect(h.engine.calls).toHaveLength(1);
    const dead = (await (await h.asOperator("/v1/dead-letters")).json()) as { deadLetters: Array<Record<string, unknown>> };
    expect(dead.deadLetters).toMatchObject([{ subscription: "43", error: "400 Bad Request: invalid quota field", attempts: 1 }]);
    expect((await (await h.app.request("/metrics")).text())).toMatch(/^tenants_dead_letter_jobs 1$/m);
  });

  // Locks are lock files as Pulumi's DIY backend writes them (diy/lock.go): they name the `pulumi` process
  // (its pid and host), not the service; a kill -9 of the service leaves that process running.
  it("a stack lock whose pulumi process is gone (same host, dead pid) is cancelled, and the history says so", async () => {
    await h.reconciler.stop();
    await h.send(event("44", "subscription.created"));
    const dead = spawnSync("true").pid as number; // exited and reaped: its pid names no process now
    h.engine.leaveLock("sub-44", { hostname: hostname(), pid: dead });
    h.reconciler.start();
    await h.reconciler.idle();
    expect(h.engine.callsFor("sub-44").map((c) => c.op)).toEqual(["up", "breakLocks", "up"]);
    expect((await h.store.get("44"))?.phase).toBe("ready");
    const [last] = await h.engine.history("sub-44");
    expect(last?.message).toContain(`cancelled the stack lock left by pid ${dead} on ${hostname()}, no longer running)`);
  });

  it("a stack lock held by a live pulumi process of this host (not the service's own pid) is never broken", async () => {
    await h.reconciler.stop();
    await h.send(event("45", "subscription.created"));
    const cli = spawn("sleep", ["30"]); // stands for a `pulumi up` still running after its service died
    try {
      h.engine.leaveLock("sub-45", { hostname: hostname(), pid: cli.pid as number });
      h.reconciler.start();
      await h.reconciler.idle();
      expect(h.engine.callsFor("sub-45").map((c) => c.op)).not.toContain("breakLocks");
      expect(await h.store.get("45")).toMatchObject({ phase: "failed", lastError: expect.stringContaining(`(pid ${cli.pid})`) });
    } finally {
      cli.kill();
    }
  });

  it("a stack lock written on another host is never broken, whatever its pid", async () => {
    await h.reconciler.stop();
    await h.send(event("46", "subscription.created"));
    h.engine.leaveLock("sub-46", { hostname: "operator-laptop", pid: spawnSync("true").pid as number });
    h.reconciler.start();
    await h.reconciler.idle();
    expect(h.engine.callsFor("sub-46").map((c) => c.op)).not.toContain("breakLocks");
    expect(await h.store.get("46")).toMatchObject({ phase: "failed", lastError: expect.stringContaining("operator-laptop") });
  });

  it("work accepted before a restart is picked up by a fresh reconciler's scan", async () => {
    await h.reconciler.stop(); // the "old process" never runs the job
    await h.send(event("42", "subscription.created"));
    expect(h.engine.calls).toHaveLength(0);
    const { Reconciler } = await import("../../../src/provisioning/reconciler.js");
    const { SETTINGS } = await import("../../support/settings.js");
    const fresh = new Reconciler({ store: h.store, engine: h.engine, settings: SETTINGS, programVersion: "p-test", log: { debug() {}, info() {}, warn() {}, error() {} }, locks: h.db, queue: h.queue, concurrency: 2, pollMs: 60_000 });
    fresh.start();
    await fresh.scan();
    await fresh.idle();
    await fresh.stop();
    expect(h.engine.calls.map((c) => c.op)).toEqual(["up"]);
    expect((await h.store.get("42"))?.phase).toBe("ready");
  });
});
