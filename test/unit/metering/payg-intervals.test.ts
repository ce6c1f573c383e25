import { describe, expect, it } from "vitest";
import { paygIntervals } from "../../../src/metering/payg-intervals.js";
import { periodOf } from "../../../src/metering/period.js";
import { event, PREPAID } from "../../support/events.js";

const oct = periodOf("2026-10");
const iso = (ms: number) => new Date(ms).toISOString();
const show = (ivs: ReturnType<typeof paygIntervals>) => ivs.map((i) => [iso(i.startMs), iso(i.stopMs)]);
const payg = { model: "payg" as const };

describe("the hours a subscription is billed from usage (PAYG and active)", () => {
  it("a PAYG subscription created before the period is billed for all of it", () => {
    expect(show(paygIntervals([event("1", "subscription.created", { at: "2026-09-10T00:00:00Z", plan: payg })], oct))).toEqual([
      ["2026-10-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z"],
    ]);
  });

  it("created, suspended, resumed and cancelled mid-period: exactly the active hours", () => {
    const evs = [
      event("1", "subscription.created", { at: "2026-10-03T10:00:00Z", plan: payg }),
      event("1", "subscription.suspended", { at: "2026-10-05T00:00:00Z", plan: payg }),
      event("1", "subscription.resumed", { at: "2026-10-07T12:00:00Z", plan: payg }),
      event("1", "subscription.cancelled", { at: "2026-10-20T06:30:00Z", plan: payg }),
    ];
    expect(show(paygIntervals(evs, oct))).toEqual([
      ["2026-10-03T10:00:00.000Z", "2026-10-05T00:00:00.000Z"],
      ["2026-10-07T12:00:00.000Z", "2026-10-20T06:30:00.000Z"],
    ]);
  });

  it("a trial's hours are never billed; its conversion to a paid subscription starts the billed hours", () => {
    const evs = [
      event("1", "subscription.created", { at: "2026-10-02T00:00:00Z", plan: { model: "payg", trial: true } }),
      event("1", "subscription.modified", { at: "2026-10-16T00:00:00Z", plan: payg }),
    ];
    expect(show(paygIntervals(evs, oct))).toEqual([["2026-10-16T00:00:00.000Z", "2026-11-01T00:00:00.000Z"]]);
    expect(paygIntervals([evs[0]!], oct)).toEqual([]);
  });

  it("switching prepaid → PAYG → prepaid bills only the PAYG hours", () => {
    const evs = [
      event("1", "subscription.created", { at: "2026-09-01T00:00:00Z", plan: PREPAID }),
      event("1", "subscription.modified", { at: "2026-10-11T00:00:00Z", plan: payg }),
      event("1", "subscription.modified", { at: "2026-10-15T00:00:00Z", plan: PREPAID }),
    ];
    expect(show(paygIntervals(evs, oct))).toEqual([["2026-10-11T00:00:00.000Z", "2026-10-15T00:00:00.000Z"]]);
  });

  it("events delivered out of order count at the time they happened", () => {
    const evs = [
      event("1", "subscription.cancelled", { at: "2026-10-20T00:00:00Z", plan: payg }),
      event("1", "subscription.created", { at: "2026-10-10T00:00:00Z", plan: payg }),
    ];
    expect(show(paygIntervals(evs, oct))).toEqual([["2026-10-10T00:00:00.000Z", "2026-10-20T00:00:00.000Z"]]);
  });

  it("a prepaid subscription, or one cancelled before the period, is never billed from usage", () => {
    expect(paygIntervals([event("1", "subscription.created", { at: "2026-09-01T00:00:00Z", plan: PREPAID })], oct)).toEqual([]);
    expect(paygIntervals([
      event("1", "subscription.created", { at: "2026-08-01T00:00:00Z", plan: payg }),
      event("1", "subscription.cancelled", { at: "2026-09-01T00:00:00Z", plan: payg }),
    ], oct)).toEqual([]);
  });
});
