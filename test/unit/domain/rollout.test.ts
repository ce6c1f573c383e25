import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  WaveList, assignWaves, canonicalJson, declarationDiff, declarationHash, nextRolloutStep, planRollout, queuedStackOutcome, waveSizes, type RolloutProgress,
} from "../../../src/domain/rollout.js";

const shares = fc.uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 5 }).map((xs) => [...xs.sort((a, b) => a - b), 100]);

describe("rollout waves", () => {
  it("parses cumulative percentages and refuses waves that shrink, overflow or do not end at 100%", () => {
    expect(WaveList.parse(["1%", "10%", "100%"])).toEqual([1, 10, 100]);
    expect(WaveList.parse(["100%"])).toEqual([100]);
    for (const bad of [["10%", "5%", "100%"], ["1%", "50%"], ["0%", "100%"], ["150%"], ["ten%"], []]) {
      expect(WaveList.safeParse(bad).success, bad.join(",")).toBe(false);
    }
  });

  it("property: the waves change every stack exactly once, the first wave has at least one, none is empty", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 20_000 }), shares, (total, ps) => {
      const sizes = waveSizes(total, ps);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
      expect(sizes.every((n) => n > 0)).toBe(true);
      if (total > 0) expect(sizes[0]).toBeGreaterThanOrEqual(1);
      expect(sizes.length).toBeLessThanOrEqual(ps.length);
    }));
  });

  it("property: stacks go to waves in id order, each exactly once, as many per wave as waveSizes says", () => {
    fc.assert(fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 300 }), shares, (ids, ps) => {
      const sizes = waveSizes(ids.length, ps);
      const assigned = assignWaves(ids.map((subscriptionId) => ({ subscriptionId })), sizes);
      expect(assigned.map((a) => a.subscriptionId)).toEqual([...ids].sort());
      expect(sizes.map((_, w) => assigned.filter((a) => a.wave === w).length)).toEqual(sizes);
      expect(assigned.every((a, i) => i === 0 || a.wave >= assigned[i - 1]!.wave)).toBe(true);
    }));
  });

  it("1%, 10%, 100% of 10,000 stacks are waves of 100, 900 and 9,000; of 5 stacks a canary of 1, then 4", () => {
    expect(waveSizes(10_000, [1, 10, 100])).toEqual([100, 900, 9000]);
    expect(waveSizes(5, [1, 10, 100])).toEqual([1, 4]);
  });
});

describe("declarations", () => {
  it("property: the hash ignores key order, and changes with any leaf or with the program's version", () => {
    const value = fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 4 })), { minKeys: 1 });
    fc.assert(fc.property(value, (v) => {
      const reversed = Object.fromEntries(Object.entries(v).reverse());
      expect(declarationHash(v, "p1")).toBe(declarationHash(reversed, "p1"));
      expect(declarationHash(v, "p1")).not.toBe(declarationHash(v, "p2"));
      const [k] = Object.keys(v);
      expect(declarationHash({ ...v, [k!]: "changed-value-x" }, "p1") === declarationHash(v, "p1")).toBe(v[k!] === "changed-value-x");
    }));
  });

  it("property: the diff is empty exactly when both declarations are the same", () => {
    const spec = fc.record({ enabled: fc.boolean(), region: fc.constantFrom("r1", "r2"), quotas: fc.record({ compute: fc.record({ cores: fc.integer({ min: -1, max: 4 }), keyPairs: fc.integer({ min: 0, max: 2 }) }) }) });
    fc.assert(fc.property(spec, spec, (a, b) => {
      expect(declarationDiff(a, b).length === 0).toBe(canonicalJson(a) === canonicalJson(b));
    }));
  });

  it("a plan groups the stacks by the exact changes they would get, largest group first", () => {
    const spec = (keyPairs: number, region = "RegionOne") => ({ region, quotas: { compute: { cores: 2, keyPairs } } });
    const stacks = [
      ...["a", "b", "c"].map((id) => ({ subscriptionId: id, applied: { hash: "old", spec: spec(100), programVersion: "v1" }, wanted: { hash: "new", spec: spec(20), programVersion: "v1" } })),
      { subscriptionId: "d", applied: { hash: "old2", spec: spec(100, "RegionTwo"), programVersion: "v0" }, wanted: { hash: "new2", spec: spec(20), programVersion: "v1" } },
      { subscriptionId: "e", applied: { hash: "same", spec: spec(20), programVersion: "v1" }, wanted: { hash: "same", spec: spec(20), programVersion: "v1" } },
      { subscriptionId: "f", applied: null, wanted: { hash: "x", spec: spec(20), programVersion: "v1" } },
    ];
    const plan = planRollout(stacks, 2);
    expect(plan.total).toBe(6);
    expect(plan.changing).toBe(5);
    expect(plan.groups).toEqual([
      { changes: ["quotas.compute.keyPairs: 100 -> 20"], count: 3, examples: ["a", "b"] },
      { changes: ["declaration not recorded (applied before rollouts were tracked)"], count: 1, examples: ["f"] },
      { changes: ["program: v0 -> v1", "quotas.compute.keyPairs: 100 -> 20", "region: \"RegionTwo\" -> \"RegionOne\""], count: 1, examples: ["d"] },
    ]);
  });
});

describe("the rollout's next step", () => {
  const at = (p: Partial<RolloutProgress>): RolloutProgress => ({ state: "running", wave: 0, waveSizes: [1, 9, 90], inFlight: 0, failed: 0, maxFailures: 2, pauseUntil: null, ...p });

  it("waits for the wave in flight, pauses between waves, then starts the next, and finishes after the last", () => {
    expect(nextRolloutStep(at({ inFlight: 1 }), 1000, 60_000)).toEqual({ do: "wait" });
    expect(nextRolloutStep(at({}), 1000, 60_000)).toEqual({ do: "pause", until: 61_000 });
    expect(nextRolloutStep(at({ state: "pausing", pauseUntil: 61_000 }), 60_999, 60_000)).toEqual({ do: "wait" });
    expect(nextRolloutStep(at({ state: "pausing", pauseUntil: 61_000 }), 61_000, 60_000)).toEqual({ do: "start-wave", wave: 1 });
    expect(nextRolloutStep(at({}), 1000, 0)).toEqual({ do: "start-wave", wave: 1 });
    expect(nextRolloutStep(at({ wave: 2 }), 1000, 60_000)).toEqual({ do: "finish" });
  });

  it("halts as soon as failures pass the budget, even mid-wave and during a pause; a halted or ended rollout does nothing", () => {
    expect(nextRolloutStep(at({ failed: 3, inFlight: 5 }), 0, 0)).toMatchObject({ do: "halt" });
    expect(nextRolloutStep(at({ failed: 3, state: "pausing", pauseUntil: 10 }), 0, 0)).toMatchObject({ do: "halt" });
    expect(nextRolloutStep(at({ failed: 2 }), 0, 0)).toEqual({ do: "start-wave", wave: 1 });
    for (const state of ["halted", "aborted", "done"] as const) expect(nextRolloutStep(at({ state, failed: 9 }), 0, 0)).toEqual({ do: "wait" });
  });
});

describe("what became of a rollout's stack", () => {
  const sub = { phase: "ready", cancelled: false, generation: 3, appliedGeneration: 3, lastError: null as string | null };
  it("applied at the generation asked for or a newer one: succeeded; failed on it: failed; failed on a customer's newer one, or cancelled: skipped", () => {
    expect(queuedStackOutcome({ ...sub, phase: "pending", appliedGeneration: 2 }, 3)).toBeNull();
    expect(queuedStackOutcome(sub, 3)).toEqual({ state: "succeeded", reason: null });
    expect(queuedStackOutcome({ ...sub, generation: 4, appliedGeneration: 4 }, 3)).toEqual({ state: "succeeded", reason: null });
    expect(queuedStackOutcome({ ...sub, phase: "failed", appliedGeneration: 2, lastError: "400" }, 3)).toEqual({ state: "failed", reason: "400" });
    expect(queuedStackOutcome({ ...sub, phase: "failed", generation: 4, appliedGeneration: 2, lastError: "400" }, 3)).toMatchObject({ state: "skipped" });
    expect(queuedStackOutcome({ ...sub, phase: "cancelled", cancelled: true, generation: 4, appliedGeneration: 4 }, 3)).toMatchObject({ state: "skipped", reason: "cancelled meanwhile" });
  });
});
