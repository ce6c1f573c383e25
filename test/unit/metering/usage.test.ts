import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Decimal, MS_PER_HOUR } from "../../../src/metering/money.js";
import { integrate, type Point } from "../../../src/metering/usage.js";

const H = MS_PER_HOUR;
const T0 = Date.UTC(2026, 9, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const hourly = (values: number[], from = T0): Point[] => values.map((v, i) => [iso(from + i * H), 3600, v]);
const hoursOf = (d: Decimal) => d.div(H).toString();

describe("integrating Gnocchi points into unit-hours", () => {
  it("sums value × hours over the interval", () => {
    expect(hoursOf(integrate(hourly([2, 2, 4]), [{ startMs: T0, stopMs: T0 + 3 * H }]))).toBe("8");
  });

  it("gaps (no point) count as zero", () => {
    const points: Point[] = [[iso(T0), 3600, 2], [iso(T0 + 5 * H), 3600, 2]];
    expect(hoursOf(integrate(points, [{ startMs: T0, stopMs: T0 + 10 * H }]))).toBe("4");
  });

  it("points are clipped to the interval and partial hours prorated", () => {
    const interval = { startMs: T0 + 15 * 60_000, stopMs: T0 + 2 * H + 30 * 60_000 }; // 00:15 → 02:30
    expect(hoursOf(integrate(hourly([4, 4, 4, 4]), [interval]))).toBe("9"); // 0.75 + 1 + 0.5 hours × 4
  });

  it("points outside every interval count nothing", () => {
    expect(integrate(hourly([5, 5]), [{ startMs: T0 + 10 * H, stopMs: T0 + 11 * H }]).isZero()).toBe(true);
  });

  it("is exact where floating point is not (0.1 + 0.2)", () => {
    const d = integrate(hourly([0.1, 0.2]), [{ startMs: T0, stopMs: T0 + 2 * H }]);
    expect(hoursOf(d)).toBe("0.3");
  });

  it("applies the unit divisor (MB → GB) exactly", () => {
    expect(hoursOf(integrate(hourly([1536]), [{ startMs: T0, stopMs: T0 + H }], 1024))).toBe("1.5");
  });
});

const arbPoints = fc.array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.oneof(fc.integer({ min: 0, max: 64 }), fc.double({ min: 0, max: 100, noNaN: true }))), { maxLength: 60 })
  .map((ps) => ps.map(([h, v]): Point => [iso(T0 + h * H), 3600, v]));

describe("integration properties (fast-check)", () => {
  it("additivity: splitting an interval anywhere never changes the total", () => {
    fc.assert(
      fc.property(arbPoints, fc.integer({ min: 0, max: 100 * H }), fc.integer({ min: 1, max: 100 * H }), fc.integer({ min: 0, max: 1_000_000 }), (points, a, len, cutAt) => {
        const start = T0 + a;
        const stop = start + len;
        const cut = start + (cutAt % len);
        const whole = integrate(points, [{ startMs: start, stopMs: stop }]);
        const split = integrate(points, [{ startMs: start, stopMs: cut }]).plus(integrate(points, [{ startMs: cut, stopMs: stop }]));
        expect(split.equals(whole)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("monotonicity: a wider interval never yields less usage", () => {
    fc.assert(
      fc.property(arbPoints, fc.integer({ min: 0, max: 100 * H }), fc.integer({ min: 0, max: 50 * H }), fc.integer({ min: 0, max: 50 * H }), (points, a, len, extra) => {
        const narrow = integrate(points, [{ startMs: T0 + a, stopMs: T0 + a + len }]);
        const wide = integrate(points, [{ startMs: T0 + a, stopMs: T0 + a + len + extra }]);
        expect(wide.greaterThanOrEqualTo(narrow)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the fast exact sum agrees with a plain Decimal reference", () => {
  /** Reference: one Decimal operation per point, no shortcuts. */
  const reference = (points: readonly Point[], start: number, stop: number) =>
    points.reduce((sum, [ts, g, v]) => {
      const lo = Math.max(Date.parse(ts), start);
      const hi = Math.min(Date.parse(ts) + g * 1000, stop);
      return hi > lo && Number.isFinite(v) ? sum.plus(new Decimal(String(v)).times(hi - lo)) : sum;
    }, new Decimal(0));

  it("for integers, decimals, tiny and huge values (exponent notation) alike", () => {
    const value = fc.oneof(fc.integer({ min: -10, max: 1_000_000 }), fc.double({ min: -1e3, max: 1e6, noNaN: true, noDefaultInfinity: true }).filter((v) => v === 0 || Math.abs(v) >= 1e-9), fc.constantFrom(1e-7, 2.5e-9, 0.1, 0.2, 0.3));
    // Magnitudes a meter can report (1e-9 … 1e6): every sum then fits the 40 significant digits exactly.
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), value), { maxLength: 40 }), fc.integer({ min: 0, max: 20 * H }), fc.integer({ min: 1, max: 40 * H }), (raw, a, len) => {
        const points = raw.map(([h, v]): Point => [iso(T0 + h * H), 3600, v]);
        expect(integrate(points, [{ startMs: T0 + a, stopMs: T0 + a + len }]).equals(reference(points, T0 + a, T0 + a + len))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
