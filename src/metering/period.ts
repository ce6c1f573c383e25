import { z } from "zod";

/** A billing period is a calendar month in UTC: "2026-10" is [2026-10-01T00:00Z, 2026-11-01T00:00Z). */
// From 1970: \d{4} took `0000-01`, which Date.UTC reads as 1900-01 (years 0-99 are 1900-1999 to it) and
// the database's calendar has no year 0 (issue 31).
export const PeriodName = z.string().regex(/^(19[7-9]\d|[2-9]\d{3})-(0[1-9]|1[0-2])$/, "period must be YYYY-MM, a month from 1970-01 on");

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

/** The calendar months (UTC) from the one holding `fromMs` to the one holding `toMs`. */
export function monthsBetween(fromMs: number, toMs: number): Period[] {
  const out: Period[] = [];
  const d = new Date(fromMs);
  // Date.UTC carries a month past December into the next year.
  for (let i = 0; ; i++) {
    const start = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + i, 1));
    if (start.getTime() > toMs) break;
    out.push(periodOf(start.toISOString().slice(0, 7)));
  }
  return out;
}
