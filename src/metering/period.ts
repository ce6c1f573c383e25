import { z } from "zod";

/** A billing period is a calendar month in UTC: "2026-10" is [2026-10-01T00:00Z, 2026-11-01T00:00Z). */
export const PeriodName = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "period must be YYYY-MM");

export interface Period {
  name: string;
  startMs: number;
  stopMs: number;
}

export function periodOf(name: string): Period {
  const [y, m] = PeriodName.parse(name).split("-").map(Number) as [number, number];
  return { name, startMs: Date.UTC(y, m - 1, 1), stopMs: Date.UTC(y, m, 1) };
}

/** Half-open interval [startMs, stopMs) in epoch milliseconds. */
export interface Interval {
  startMs: number;
  stopMs: number;
}
