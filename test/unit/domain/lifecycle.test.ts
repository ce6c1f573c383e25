import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EventType, MarketplaceEvent } from "../../../src/domain/event.js";
import {
  eventApplied,
  needsOperation,
  operationBegun,
  operationEnded,
  operationFor,
  reapplyRequested,
  subscriptionCreated,
  type OperationOutcome,
  type OutcomeDecision,
  type SubscriptionRecord,
} from "../../../src/domain/lifecycle.js";
import { foldEvent } from "../../../src/domain/subscription.js";
import { PREPAID } from "../../support/events.js";

const NOW = "2026-11-24T10:00:00.000Z";
const TYPES: EventType[] = ["subscription.created", "subscription.modified", "subscription.suspended", "subscription.resumed", "subscription.cancelled"];

/** What can happen to one subscription: marketplace events, the reconciler's steps, an operator's requests. */
type Step =
  | { do: "event"; type: EventType; at: number; cores: number }
  | { do: "begin" }
  | { do: "end"; outcome: OperationOutcome }
  | { do: "operator"; refresh: boolean; rotatePassword: boolean };

const OUTPUTS = { projectId: "p", userId: "u", userName: "sub-1", authUrl: "http://keystone:5000/v3", region: "RegionOne", domainId: "default" };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ do: fc.constant("event" as const), type: fc.constantFrom(...TYPES), at: fc.nat(40), cores: fc.integer({ min: 1, max: 3 }) }),
  { arbitrary: fc.constant({ do: "begin" as const }), weight: 2 },
  fc.record({
    do: fc.constant("end" as const),
    outcome: fc.oneof(
      fc.constant<OperationOutcome>({ result: "succeeded", outputs: OUTPUTS, summary: { resourceChanges: { same: 5 } } }),
      fc.constant<OperationOutcome>({ result: "retrying", error: "503 Service Unavailable" }),
      fc.constant<OperationOutcome>({ result: "failed", error: "400 Bad Request" }),
      fc.constant<OperationOutcome>({ result: "held", reason: "the project still has: 1 server" }),
    ),
  }),
  fc.record({ do: fc.constant("operator" as const), refresh: fc.boolean(), rotatePassword: fc.boolean() }),
);

let n = 0;
const eventOf = (s: Extract<Step, { do: "event" }>): MarketplaceEvent => ({
  id: `e${++n}`,
  type: s.type,
  occurredAt: new Date(Date.UTC(2026, 10, 1, 0, 0, s.at)).toISOString(),
  subscription: { id: "1", customer: { id: "c", name: "C", email: "c@example.com" }, plan: { ...PREPAID, cores: s.cores } },
});

/**
 * The plain model the transitions are held to, written from the rules as a user would state them:
 * counts instead of records. `desiredVersions` counts desired states that need an update; `applied` is
 * the newest of them a successful operation applied; `parked` is why it waits for someone.
 */
interface Model {
  desiredVersions: number;
  applied: number;
  parked: "failed" | "held" | null;
  cancelled: boolean;
  /** The generation the running operation applies (one at a time: the subscription's lock). */
  running: number | null;
  /** Operator requests (rotation, refresh) not yet carried by an operation, and those the running one carries. */
  requested: { rotate: boolean; refresh: boolean };
  carried: { rotate: boolean; refresh: boolean };
}

/** Runs the steps through the domain's transitions and the model side by side, checking both after each. */
function run(steps: Step[]) {
  let sub: SubscriptionRecord | null = null;
  const m: Model = { desiredVersions: 0, applied: 0, parked: null, cancelled: false, running: null, requested: { rotate: false, refresh: false }, carried: { rotate: false, refresh: false } };
  for (const s of steps) {
    const before = sub;
    if (s.do === "event") {
      const folded = foldEvent(sub?.desired ?? null, eventOf(s));
      if (folded.outcome !== "applied") continue;
      sub = sub ? eventApplied(sub, folded) : subscriptionCreated(folded.state, NOW);
      if (folded.changed) m.desiredVersions++;
      // Any applied event lifts a failure; a change also lifts a hold.
      if (m.parked === "failed" || (folded.changed && m.parked === "held")) m.parked = null;
      m.cancelled = folded.state.status === "cancelled";
    } else if (!sub) {
      continue;
    } else if (s.do === "begin") {
      if (m.running !== null || !needsOperation(sub)) continue;
      const op = operationFor(sub);
      // After a cancellation, the only operation is a destroy.
      expect(op.kind).toBe(m.cancelled ? "destroy" : "up");
      expect(op.generation).toBe(m.desiredVersions);
      sub = operationBegun(sub);
      m.running = op.generation;
      // The operation carries every request made before it began (and those a failed attempt carried).
      m.carried = { rotate: m.carried.rotate || m.requested.rotate, refresh: m.carried.refresh || m.requested.refresh };
      m.requested = { rotate: false, refresh: false };
      expect(sub.phase).toBe("applying");
      expect(sub.pendingNote).toBeNull();
    } else if (s.do === "end") {
      if (m.running === null) continue;
      // The reconciler tells what the operation began with (the model's carried requests).
      const outcome: OperationOutcome = s.outcome.result === "succeeded" ? { ...s.outcome, carried: { rotatePassword: m.carried.rotate, refresh: m.carried.refresh } } : s.outcome;
      const decided: OutcomeDecision<SubscriptionRecord> = operationEnded(sub, m.running, outcome);
      sub = decided.next;
      const newer = m.desiredVersions > m.running;
      if (s.outcome.result === "succeeded") {
        m.applied = Math.max(m.applied, m.running);
        // Done: what it carried; a request made during it for the same thing counts as done too.
        m.requested = { rotate: m.requested.rotate && !m.carried.rotate, refresh: m.requested.refresh && !m.carried.refresh };
        m.carried = { rotate: false, refresh: false };
      }
      if (s.outcome.result === "failed" && !newer) m.parked = "failed";
      if (s.outcome.result === "held") m.parked = "held";
      // A marketplace hears a success or a failure for good; a destroy's success drops the drift finding.
      expect(decided.report).toBe(s.outcome.result === "succeeded" || s.outcome.result === "failed" ? s.outcome.result : null);
      expect(decided.dropDrift).toBe(s.outcome.result === "succeeded" && m.cancelled);
      // A failure never hides a newer desired state: it stays pending for its own attempt.
      if ((s.outcome.result === "failed" || s.outcome.result === "retrying") && newer) expect(sub.phase).toBe("pending");
      m.running = null;
    } else {
      const wasBehind = sub.generation > sub.appliedGeneration;
      sub = reapplyRequested(sub, { note: "operator retry", refresh: s.refresh, rotatePassword: s.rotatePassword });
      // Something not behind gets a new version to apply; something behind carries the request on its
      // pending one; while an operation runs (it began without the request) the request gets its own.
      if (!wasBehind || (m.running !== null && m.desiredVersions === m.running)) m.desiredVersions++;
      m.requested = { rotate: m.requested.rotate || s.rotatePassword, refresh: m.requested.refresh || s.refresh };
      m.parked = null;
      expect(sub.pendingNote).toBe("operator retry");
      if (s.refresh) expect(sub.refreshNext).toBe(true);
      if (s.rotatePassword) expect(sub.rotatePassword).toBe(true);
    }

    if (!sub) continue;
    // No operator request is lost: it stays until an operation that carried it succeeds.
    expect(sub.rotatePassword).toBe(m.requested.rotate || m.carried.rotate);
    expect(sub.refreshNext).toBe(m.requested.refresh || m.carried.refresh);
    // The domain agrees with the model on every count and on what waits for whom.
    expect(sub.generation).toBe(m.desiredVersions);
    expect(sub.appliedGeneration).toBe(m.applied);
    expect(sub.appliedGeneration).toBeLessThanOrEqual(sub.generation);
    if (before) {
      expect(sub.generation).toBeGreaterThanOrEqual(before.generation);
      expect(sub.appliedGeneration).toBeGreaterThanOrEqual(before.appliedGeneration);
    }
    // Failed and held are lifted only by an event or an operator, never by the reconciler's own steps.
    if (before && (before.phase === "failed" || before.phase === "held") && sub.phase !== before.phase) expect(["event", "operator"]).toContain(s.do);
    if (m.parked) expect(sub.phase).toBe(m.parked);
    // Cancellation is final: once cancelled, the desired state stays cancelled.
    if (before?.desired.status === "cancelled") expect(sub.desired.status).toBe("cancelled");
    expect(sub.desired.status === "cancelled").toBe(m.cancelled);
    if (sub.phase === "cancelled") expect(m.cancelled && sub.appliedGeneration === sub.generation).toBe(true);
    if (sub.phase === "ready") expect(!m.cancelled && sub.appliedGeneration === sub.generation).toBe(true);
    // Behind and not parked (and not being applied) is exactly what the queue's scan looks for.
    if (m.running === null) expect(needsOperation(sub)).toBe(m.desiredVersions > m.applied && m.parked === null);
  }
  return { sub, m };
}

describe("the subscription lifecycle", () => {
  it("follows the plain model through any sequence of events, operations and operator requests", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        run(steps);
      }),
      { numRuns: 500 },
    );
  });

  it("whatever happened, an operation run to success with no new event leaves it applied (ready, or cancelled) unless it waits for someone", () => {
    const ok: Step = { do: "end", outcome: { result: "succeeded", outputs: OUTPUTS, summary: { resourceChanges: {} } } };
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const { sub, m } = run([{ do: "event", type: "subscription.created", at: 0, cores: 1 }, ...steps, ok, { do: "begin" }, ok]);
        if (!sub || m.parked) return;
        expect(sub.generation).toBe(sub.appliedGeneration);
        expect(sub.phase).toBe(sub.desired.status === "cancelled" ? "cancelled" : "ready");
      }),
      { numRuns: 300 },
    );
  });

  it("a success of an older generation leaves the newer desired state pending, and its outputs recorded", () => {
    const first = foldEvent(null, eventOf({ do: "event", type: "subscription.created", at: 1, cores: 1 }));
    if (first.outcome !== "applied") throw new Error("expected the creation to apply");
    const created = subscriptionCreated(first.state, NOW);
    const running = operationBegun(created);
    const modified = foldEvent(running.desired, eventOf({ do: "event", type: "subscription.modified", at: 2, cores: 2 }));
    if (modified.outcome !== "applied") throw new Error("expected the modification to apply");
    const meanwhile = eventApplied(running, modified);
    const { next } = operationEnded(meanwhile, 1, { result: "succeeded", outputs: OUTPUTS, summary: { resourceChanges: { create: 6 } } });
    expect(next).toMatchObject({ phase: "pending", generation: 2, appliedGeneration: 1, outputs: OUTPUTS });
    expect(needsOperation(next)).toBe(true);
  });

  it("a password rotation asked while an update runs is not lost: the update's success leaves it for an operation of its own", () => {
    const first = foldEvent(null, eventOf({ do: "event", type: "subscription.created", at: 1, cores: 1 }));
    if (first.outcome !== "applied") throw new Error("expected the creation to apply");
    const running = operationBegun(subscriptionCreated(first.state, NOW));
    const asked = reapplyRequested(running, { note: "password rotation by an operator", rotatePassword: true });
    expect(asked).toMatchObject({ generation: 2, phase: "pending", rotatePassword: true });
    const { next } = operationEnded(asked, 1, { result: "succeeded", outputs: OUTPUTS, summary: { resourceChanges: { create: 6 } }, carried: { rotatePassword: false, refresh: false } });
    expect(next).toMatchObject({ phase: "pending", appliedGeneration: 1, rotatePassword: true, pendingNote: "password rotation by an operator" });
    expect(operationFor(next).cause).toBe("password rotation by an operator");
    const rotated = operationEnded(operationBegun(next), 2, { result: "succeeded", outputs: OUTPUTS, summary: { resourceChanges: { update: 1 } }, carried: { rotatePassword: true, refresh: false } });
    expect(rotated.next).toMatchObject({ phase: "ready", appliedGeneration: 2, rotatePassword: false });
  });
});
