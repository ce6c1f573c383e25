import { AsyncLocalStorage } from "node:async_hooks";
import { afterEach, describe, expect, it } from "vitest";
import { unscheduled, type Scheduler } from "../../../src/store/embedded-scheduler.js";
import type { StackChange } from "../../../src/provisioning/engine.js";
import { event } from "../../support/events.js";
import { harness, harnessWith } from "../../support/harness.js";
import { RecordingEngine } from "../../support/recording-engine.js";

let h: Awaited<ReturnType<typeof harness>>;
afterEach(async () => {
  await h.reconciler.stop();
});

const BULK = ["b1", "b2", "b3", "b4", "b5", "b6"];

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Ready stacks, then an operator's retry of each, every one held by the engine until released. */
async function bulkWorkQueued(): Promise<Map<string, () => void>> {
  for (const id of BULK) await h.send(event(id, "subscription.created"));
  await h.reconciler.idle();
  h.engine.calls.length = 0;
  const releases = new Map(BULK.map((id) => [id, h.engine.block(`sub-${id}`)]));
  for (const id of BULK) expect((await h.asOperator(`/v1/subscriptions/${id}/retry`, { method: "POST" })).status).toBe(202);
  return releases;
}

const started = () => h.engine.calls.filter((c) => c.op === "up").map((c) => c.stack.slice(4));

describe("customers first: marketplace events never wait behind operators' bulk work", () => {
  // Fails on the code before the lanes: one queue, first in first out, so b3 and b4 start before p1.
  it("with every slot busy on bulk jobs and more waiting, a purchase is applied before any further bulk job starts", async () => {
    h = await harness({ concurrency: 2, bulkSlots: 2 });
    const releases = await bulkWorkQueued();
    await until("both slots busy with bulk work", () => started().length === 2);
    await h.send(event("p1", "subscription.created"));
    releases.get(started()[0]!)!();
    await until("the purchase started", () => started().includes("p1"));
    expect(started()).toHaveLength(3);
    for (const r of releases.values()) r();
    await h.reconciler.idle();
    expect(started()).toEqual([...started().slice(0, 2), "p1", ...started().slice(3)]);
    expect(started().slice(3).sort()).toEqual(BULK.filter((id) => !started().slice(0, 2).includes(id)).sort());
    expect((await h.store.get("p1"))?.phase).toBe("ready");
  });

  // Fails on the code before the reserved slot: the third slot takes b3 and the purchase waits for a release.
  it("a slot kept for customers: a purchase starts at once while bulk work holds every other slot", async () => {
    h = await harness({ concurrency: 3, bulkSlots: 2 });
    const releases = await bulkWorkQueued();
    await until("the bulk slots busy", () => started().length === 2);
    await h.send(event("p1", "subscription.created"));
    await until("the purchase started", () => started().includes("p1"));
    await until("the purchase applied", async () => (await h.store.get("p1"))?.phase === "ready");
    // Nothing was released: still only the two bulk jobs and the purchase.
    expect(started()).toHaveLength(3);
    for (const r of releases.values()) r();
    await h.reconciler.idle();
    expect(started().filter((id) => id !== "p1").sort()).toEqual(BULK);
    expect(h.engine.maxConcurrentOverall).toBeLessThanOrEqual(3);
  });

  it("an operator's retry waits in the bulk lane; a customer's event for the same subscription still comes first", async () => {
    h = await harness({ concurrency: 1 });
    const releases = await bulkWorkQueued();
    await until("one bulk job running", () => started().length === 1);
    // b6's retry waits in the bulk lane; its customer resizes it: the customer's job runs next, and b6's
    // bulk job later finds nothing left to do.
    await h.send(event("b6", "subscription.modified"));
    releases.get(started()[0]!)!();
    await until("the next operation", () => started().length >= 2);
    expect(started()[1]).toBe("b6");
    for (const r of releases.values()) r();
    await h.reconciler.idle();
    expect(started().filter((id) => id === "b6")).toHaveLength(1);
  });

  // Fails without the reconciler's customerDb: a purchase's statements would each wait for a loop turn
  // crowded with the fleet's (bench/scale.ts measured 10 ms p50 from the webhook's answer to the
  // operation's start during a rollout, 3 ms with it).
  it("runs a customer's job ahead on the database, an operator's bulk job not", async () => {
    const ahead = new AsyncLocalStorage<boolean>();
    const scheduler: Scheduler = { ...unscheduled, ahead: (fn) => ahead.run(true, fn), ordinary: (fn) => ahead.run(false, fn) };
    const underAhead = new Map<string, boolean>();
    class Marking extends RecordingEngine {
      override async up(req: StackChange) {
        underAhead.set(`${req.stack}${underAhead.has(req.stack) ? " again" : ""}`, ahead.getStore() === true);
        return super.up(req);
      }
    }
    h = await harnessWith(new Marking(), { concurrency: 2, scheduler });
    await h.send(event("a1", "subscription.created"));
    await h.reconciler.idle();
    expect((await h.asOperator("/v1/subscriptions/a1/retry", { method: "POST" })).status).toBe(202);
    await h.reconciler.idle();
    expect(Object.fromEntries(underAhead)).toEqual({ "sub-a1": true, "sub-a1 again": false });
  });

  // Fails without the reconciler's `ordinary`: a job loop kicked from within a customer's operation (its
  // follow-ups: a rollout's tick, a drift recheck) started the bulk job it found ahead too.
  it("an operator's job started by a loop a customer's operation kicked is still not ahead", async () => {
    const ahead = new AsyncLocalStorage<boolean>();
    const scheduler: Scheduler = { ...unscheduled, ahead: (fn) => ahead.run(true, fn), ordinary: (fn) => ahead.run(false, fn) };
    const underAhead: boolean[] = [];
    class Marking extends RecordingEngine {
      override async up(req: StackChange) {
        underAhead.push(ahead.getStore() === true);
        return super.up(req);
      }
    }
    h = await harnessWith(new Marking(), { concurrency: 2, scheduler });
    await h.send(event("a2", "subscription.created"));
    await h.reconciler.idle();
    underAhead.length = 0;
    // The retry's job waits (the reconciler stopped); then the loop is kicked from within a customer's
    // context before any other (start's own pump waits for its scan).
    await h.reconciler.stop();
    expect((await h.asOperator("/v1/subscriptions/a2/retry", { method: "POST" })).status).toBe(202);
    h.reconciler.start();
    await scheduler.ahead(async () => h.reconciler.kick());
    await until("the retry ran", () => underAhead.length === 1);
    expect(underAhead).toEqual([false]);
  });
});
