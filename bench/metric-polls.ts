/**
 * Cloudesire's metric polls (CLOUDESIRE_PAYG_MODE=metrics, issue 32): Cloudesire polls every meter of every
 * PAYG subscription; each poll answers the subscription's usage since its start (metering/usage-so-far.ts).
 * S subscriptions, each M months old, polled R rounds (4 meters each) against a Gnocchi double that answers
 * hourly points for every project (as the aggregates API grouped by project does) and counts its requests.
 * Compared with the same code without memory (freshMs 0, nothing remembered), which is what each poll cost
 * before: one Gnocchi request per meter per month of the subscription's life. Prints figures; asserts nothing.
 *   Usage: npx tsx bench/metric-polls.ts [subscriptions=200] [months=12] [rounds=3]
 */
import type { BillableSubscription, Meter } from "../src/domain/billing.js";
import { DEFAULT_METERS } from "../src/domain/billing.js";
import type { GnocchiClient } from "../src/metering/gnocchi-client.js";
import type { Period } from "../src/metering/period.js";
import type { Point } from "../src/metering/usage.js";
import { UsageSoFar } from "../src/metering/usage-so-far.js";

const S = Number(process.argv[2] ?? 200);
const M = Number(process.argv[3] ?? 12);
const R = Number(process.argv[4] ?? 3);
const say = (line: string) => process.stdout.write(`${line}\n`);
const RESOURCES = ["cores", "ramGb", "diskGb", "floatingIps"] as const;

const now = Date.now();
const start = new Date(now);
start.setUTCMonth(start.getUTCMonth() - (M - 1), 1);
const subs: BillableSubscription[] = Array.from({ length: S }, (_, i) => ({
  id: String(i), projectId: `p${i}`,
  events: [{ id: `e${i}`, type: "subscription.created", occurredAt: start.toISOString(), subscription: { id: String(i), customer: { id: "c", name: "c", email: "c@example.com" }, plan: { model: "payg" } } }],
}) as unknown as BillableSubscription);

function gnocchi(): { client: Pick<GnocchiClient, "usageByProject">; requests: () => number } {
  let requests = 0;
  return {
    requests: () => requests,
    client: {
      async usageByProject(_meter: Meter, period: Period, granularitySeconds: number): Promise<Map<string, Point[]>> {
        requests++;
        const stamps: string[] = [];
        for (let t = period.startMs; t < Math.min(period.stopMs, now); t += granularitySeconds * 1000) stamps.push(new Date(t).toISOString());
        return new Map(subs.map((s) => [s.projectId as string, stamps.map((ts) => [ts, granularitySeconds, 2] as const)]));
      },
    },
  };
}

async function run(label: string, remember: boolean): Promise<{ requests: number; ms: number }> {
  const g = gnocchi();
  const usage = new UsageSoFar({ gnocchi: () => g.client, meters: DEFAULT_METERS, granularitySeconds: 3600, ...(remember ? {} : { freshMs: 0, maxRemembered: 0 }), now: () => now });
  const t0 = performance.now();
  for (let r = 0; r < R; r++) for (const sub of subs) for (const resource of RESOURCES) await usage.of(sub, resource);
  const ms = performance.now() - t0;
  say(`${label.padEnd(22)} ${String(g.requests()).padStart(7)} Gnocchi requests for ${R * S * RESOURCES.length} polls (${(g.requests() / (R * S * RESOURCES.length)).toFixed(3)} per poll), ${ms.toFixed(0)} ms (${(ms / (R * S * RESOURCES.length)).toFixed(2)} ms per poll)`);
  return { requests: g.requests(), ms };
}

say(`${S} PAYG subscriptions, ${M} months old, ${R} rounds of polls of ${RESOURCES.length} meters`);
const before = await run("without memory (before)", false);
const after = await run("from what was measured", true);
say(`ratio: ${(before.requests / Math.max(1, after.requests)).toFixed(1)}x fewer Gnocchi requests, ${(before.ms / Math.max(1, after.ms)).toFixed(1)}x less time`);
