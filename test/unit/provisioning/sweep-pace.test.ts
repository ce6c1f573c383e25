import { describe, expect, it } from "vitest";
import { limiter, paced, startOffset, type SweepClock } from "../../../src/provisioning/sweep-pace.js";

/** A clock that moves only when every task is waiting on it: it then jumps to the earliest timer. */
function virtualTime() {
  let t = 0;
  const timers: Array<{ at: number; wake: () => void }> = [];
  const clock: SweepClock = {
    now: () => t,
    sleep: (ms, signal) =>
      new Promise<void>((wake) => {
        timers.push({ at: t + ms, wake });
        signal?.addEventListener("abort", () => wake(), { once: true });
      }),
  };
  const settle = () => new Promise<void>((r) => setImmediate(r));
  return {
    clock,
    now: () => t,
    /** Runs `p` to its end, moving time forward whenever nothing else can run. */
    async run<T>(p: Promise<T>): Promise<T> {
      let done = false;
      void p.finally(() => (done = true)).catch(() => undefined);
      for (let i = 0; i < 100_000; i++) {
        await settle();
        if (done) return p;
        timers.sort((a, b) => a.at - b.at);
        const next = timers.shift();
        if (!next) continue;
        t = Math.max(t, next.at);
        next.wake();
      }
      throw new Error("the sweep never ended");
    },
  };
}

/** A check that takes `ms` of virtual time and notes when it ran. */
function checks(v: ReturnType<typeof virtualTime>, ms: number) {
  const log: Array<{ item: number; start: number; end: number }> = [];
  let running = 0;
  let most = 0;
  const work = async (item: number) => {
    running++;
    most = Math.max(most, running);
    const start = v.now();
    await v.clock.sleep(ms);
    running--;
    log.push({ item, start, end: v.now() });
    return item;
  };
  return { work, log, most: () => most };
}

const items = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("pacing a drift sweep", () => {
  it("fast checks start evenly over the spread, one every interval/n, so the sweep ends within about the spread", async () => {
    const v = virtualTime();
    const c = checks(v, 10);
    const results = await v.run(paced(items(10), c.work, { concurrency: 4, spreadMs: 1000 }, { clock: v.clock }));
    expect(results).toEqual(items(10));
    expect(c.log.map((l) => l.start)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(v.now()).toBe(910);
    expect(c.most()).toBe(1);
  });

  it("slow checks are bounded by the concurrency: never more at once, and none before its slot", async () => {
    const v = virtualTime();
    const c = checks(v, 500);
    await v.run(paced(items(10), c.work, { concurrency: 2, spreadMs: 1000 }, { clock: v.clock }));
    expect(c.most()).toBe(2);
    for (const l of c.log) expect(l.start).toBeGreaterThanOrEqual(startOffset(l.item, 10, 1000));
    // Two lanes of 500 ms checks, the second 100 ms behind the first: five each, whatever the spread asked.
    expect(v.now()).toBe(2600);
  });

  it("without a spread (a sweep an operator asked for) the bound alone paces it: four at once from the start", async () => {
    const v = virtualTime();
    const c = checks(v, 100);
    await v.run(paced(items(8), c.work, { concurrency: 4, spreadMs: 0 }, { clock: v.clock }));
    expect(c.log.filter((l) => l.start === 0)).toHaveLength(4);
    expect(c.most()).toBe(4);
    expect(v.now()).toBe(200);
  });

  it("10,000 stacks over an hour start one every 360 ms", () => {
    expect(startOffset(1, 10_000, 3_600_000)).toBe(360);
    expect(startOffset(9_999, 10_000, 3_600_000)).toBe(3_599_640);
  });

  it("once stopped nothing new starts, a wait for the next slot ends at once, and the checks that ran are returned", async () => {
    const v = virtualTime();
    const c = checks(v, 10);
    const stop = new AbortController();
    const work = async (i: number) => {
      const r = await c.work(i);
      if (i === 2) stop.abort();
      return r;
    };
    const results = await v.run(paced(items(10), work, { concurrency: 1, spreadMs: 10_000 }, { clock: v.clock, signal: stop.signal }));
    expect(results).toEqual([0, 1, 2]);
    expect(v.now()).toBe(2010);
  });

  it("a check that throws stops new starts and the sweep fails with its error", async () => {
    const v = virtualTime();
    const started: number[] = [];
    const work = async (i: number) => {
      started.push(i);
      if (i === 1) throw new Error("boom");
      return i;
    };
    await expect(v.run(paced(items(5), work, { concurrency: 1, spreadMs: 500 }, { clock: v.clock }))).rejects.toThrow("boom");
    expect(started).toEqual([0, 1]);
  });

  it("a limiter of one runs calls one after another, in the order they asked", async () => {
    const turn = limiter(1);
    const order: string[] = [];
    let running = 0;
    const call = (name: string) =>
      turn(async () => {
        running++;
        expect(running).toBe(1);
        order.push(`${name} start`);
        await new Promise((r) => setImmediate(r));
        order.push(`${name} end`);
        running--;
        return name;
      });
    expect(await Promise.all([call("a"), call("b"), call("c")])).toEqual(["a", "b", "c"]);
    expect(order).toEqual(["a start", "a end", "b start", "b end", "c start", "c end"]);
  });
});
