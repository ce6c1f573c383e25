import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EventType, MarketplaceEvent } from "../../../src/domain/event.js";
import { compareClocks, foldEvent, foldEvents, type DesiredState } from "../../../src/domain/subscription.js";
import { event, PREPAID } from "../../support/events.js";

const at = (s: number) => new Date(Date.UTC(2026, 10, 1, 0, 0, s)).toISOString();

describe("folding marketplace events into a desired state", () => {
  it("a created event makes an active subscription with the plan bought", () => {
    const r = foldEvent(null, event("42", "subscription.created"));
    expect(r.outcome).toBe("applied");
    expect(r.state?.status).toBe("active");
    expect(r.state?.plan).toEqual(PREPAID);
  });

  it("a late 'modified' event never resurrects a cancelled subscription", () => {
    const created = foldEvent(null, event("42", "subscription.created", { at: at(1) })).state;
    const cancelled = foldEvent(created, event("42", "subscription.cancelled", { at: at(3) })).state;
    const late = foldEvent(cancelled, event("42", "subscription.modified", { at: at(2) }));
    expect(late.outcome).toBe("stale");
    expect(late.state?.status).toBe("cancelled");
  });

  it("a newer event on a cancelled subscription is rejected with a reason (no resume after cancel)", () => {
    const created = foldEvent(null, event("42", "subscription.created", { at: at(1) })).state;
    const cancelled = foldEvent(created, event("42", "subscription.cancelled", { at: at(2) })).state;
    const resume = foldEvent(cancelled, event("42", "subscription.resumed", { at: at(3) }));
    expect(resume.outcome).toBe("rejected");
    expect(resume.outcome === "rejected" && resume.reason).toMatch(/cancelled/);
    expect(resume.state?.status).toBe("cancelled");
  });

  it("the same event delivered twice changes nothing the second time", () => {
    const e = event("42", "subscription.created");
    const once = foldEvent(null, e).state;
    const twice = foldEvent(once, e);
    expect(twice.outcome).toBe("stale");
    expect(twice.state).toEqual(once);
  });

  it("a late 'modified' does not lift a newer suspension, but its older plan is not applied either", () => {
    const bigger = { ...PREPAID, cores: 16 };
    let s = foldEvent(null, event("42", "subscription.created", { at: at(1) })).state;
    s = foldEvent(s, event("42", "subscription.suspended", { at: at(5), plan: bigger })).state;
    const late = foldEvent(s, event("42", "subscription.modified", { at: at(3) }));
    expect(late.state?.status).toBe("suspended");
    expect(late.state?.plan).toEqual(bigger);
  });

  it("a modify that changes nothing the tenant sees needs no stack update", () => {
    const s = foldEvent(null, event("42", "subscription.created", { at: at(1) })).state;
    const r = foldEvent(s, event("42", "subscription.modified", { at: at(2) }));
    expect(r.outcome === "applied" && r.changed).toBe(false);
    const r2 = foldEvent(s, event("42", "subscription.modified", { at: at(2), plan: { model: "payg" } }));
    expect(r2.outcome === "applied" && r2.changed).toBe(true);
  });

  it("events at the same instant are ordered by event id", () => {
    expect(compareClocks({ at: at(1), id: "a" }, { at: at(1), id: "b" })).toBe(-1);
    expect(compareClocks({ at: at(2), id: "a" }, { at: at(1), id: "b" })).toBe(1);
    expect(compareClocks({ at: "2026-11-01T01:00:00+01:00", id: "a" }, { at: "2026-11-01T00:00:00Z", id: "a" })).toBe(0);
  });
});

/** The reference meaning of a set of events, independent of their order. */
function expected(events: MarketplaceEvent[]): Pick<DesiredState, "status" | "plan"> | null {
  if (events.length === 0) return null;
  const sorted = [...events].sort((a, b) => compareClocks({ at: a.occurredAt, id: a.id }, { at: b.occurredAt, id: b.id }));
  const newest = sorted[sorted.length - 1] as MarketplaceEvent;
  if (events.some((e) => e.type === "subscription.cancelled")) return { status: "cancelled", plan: newest.subscription.plan };
  const statusEvents = sorted.filter((e) => e.type !== "subscription.modified");
  const last = statusEvents[statusEvents.length - 1];
  const status = last?.type === "subscription.suspended" ? "suspended" : "active";
  return { status, plan: newest.subscription.plan };
}

const arbEvents = fc
  .uniqueArray(
    fc.record({
      n: fc.integer({ min: 0, max: 10_000 }),
      second: fc.integer({ min: 0, max: 50 }),
      type: fc.constantFrom<EventType>("subscription.created", "subscription.modified", "subscription.suspended", "subscription.resumed", "subscription.cancelled"),
      cores: fc.integer({ min: 1, max: 64 }),
    }),
    { selector: (e) => e.n, minLength: 1, maxLength: 12 },
  )
  .map((raw) =>
    raw.map((r) => event("7", r.type, { id: `e-${String(r.n).padStart(5, "0")}`, at: at(r.second), plan: { ...PREPAID, cores: r.cores } })),
  );

describe("folding is independent of delivery order (property)", () => {
  it("any delivery order, with duplicates, ends in the state the events mean", () => {
    fc.assert(
      fc.property(arbEvents, fc.infiniteStream(fc.nat()), fc.array(fc.nat(), { maxLength: 6 }), (events, rnd, dupIdx) => {
        // A shuffled delivery with some events delivered again.
        const delivery = [...events, ...dupIdx.map((i) => events[i % events.length] as MarketplaceEvent)];
        const it = rnd[Symbol.iterator]();
        const shuffled = delivery.map((e) => ({ e, k: it.next().value as number })).sort((a, b) => a.k - b.k).map((x) => x.e);
        const state = foldEvents(shuffled);
        const want = expected(events);
        expect(state?.status).toBe(want?.status);
        if (want?.status !== "cancelled") expect(state?.plan).toEqual(want?.plan);
      }),
      { numRuns: 500 },
    );
  });

  it("once cancelled, no later event ever changes the status", () => {
    fc.assert(
      fc.property(arbEvents, (events) => {
        let state: DesiredState | null = null;
        let cancelled = false;
        for (const e of events) {
          state = foldEvent(state, e).state;
          if (cancelled) expect(state?.status).toBe("cancelled");
          if (state?.status === "cancelled") cancelled = true;
        }
      }),
    );
  });
});
