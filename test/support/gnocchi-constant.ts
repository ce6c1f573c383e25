import type { Meter } from "../../src/domain/billing.js";
import type { GnocchiClient } from "../../src/metering/gnocchi-client.js";
import type { Period } from "../../src/metering/period.js";
import type { Point } from "../../src/metering/usage.js";

/**
 * Gnocchi as the aggregates API answers a billing run (metering/gnocchi-client.ts: hourly points grouped
 * by project over the period): `value` for every meter of each project named, every hour of the period up
 * to the next hour from now (later hours have not happened).
 */
export function constantGnocchi(values: Record<string, number>): GnocchiClient {
  const client = {
    requests: 0,
    async usageByProject(_meter: Meter, period: Period, granularitySeconds: number): Promise<Map<string, Point[]>> {
      client.requests++;
      const stamps: string[] = [];
      for (let t = period.startMs; t < Math.min(period.stopMs, Date.now() + 3_600_000); t += granularitySeconds * 1000) stamps.push(new Date(t).toISOString());
      return new Map(Object.entries(values).map(([project, v]) => [project, stamps.map((ts) => [ts, granularitySeconds, v] as const)]));
    },
  };
  return client as unknown as GnocchiClient;
}
