/**
 * Pages of the audit trail on the embedded store (issue 23): GET /v1/audit merges operators' actions with
 * the generic webhook's events and Cloudesire's notifications, newest first. Prints figures; asserts nothing.
 *
 * A fresh PGlite in a temporary data directory (migrated, no ANALYZE, as the service runs it), filled
 * directly: N events over N/10 subscriptions, N/2 operator actions and N/10 Cloudesire notifications,
 * spread over 30 days. Then R requests of each kind through the real app, walking the trail by
 * nextCursor (back to the first page after the last): all, one subscription's, since a week ago.
 *   Usage: npx tsx bench/audit.ts [events=20000] [requests=300]
 */
import { BENCH_TOKEN, embeddedService } from "./support/embedded-service.js";

const N = Number(process.argv[2] ?? 20_000);
const R = Number(process.argv[3] ?? 300);
const TOKEN = BENCH_TOKEN;
const say = (line: string) => process.stdout.write(`${line}\n`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const ms = (x: number) => `${x.toFixed(1)} ms`;

const { db, app, close } = await embeddedService("audit", say);

const t0 = performance.now();
const subs = Math.max(1, Math.floor(N / 10));
const spread = "(now() - random() * interval '30 days')";
await db.exec(`
  INSERT INTO events (id, subscription_id, type, occurred_at, received_at, body, outcome)
    SELECT 'evt-' || g, 's' || (g % ${subs}), 'subscription.modified', now(), ${spread}, '{}', 'applied' FROM generate_series(1, ${N}) g;
  INSERT INTO audit (at, actor, action, subscription_id, result)
    SELECT ${spread}, 'operator:alice', 'subscription.retry', 's' || (g % ${subs}), 'ok' FROM generate_series(1, ${Math.floor(N / 2)}) g;
  INSERT INTO cloudesire_notifications (entity, entity_id, type, body, received_at, digest)
    SELECT 'Subscription', 's' || (g % ${subs}), 'MODIFIED', '{}', ${spread}, 'd' || g FROM generate_series(1, ${Math.floor(N / 10)}) g;
`);
say(`filled: ${N} events, ${Math.floor(N / 2)} operator actions, ${Math.floor(N / 10)} notifications over ${subs} subscriptions in ${ms(performance.now() - t0)}`);

const auth = { authorization: `Bearer ${TOKEN}` };
async function walk(query: string): Promise<number[]> {
  const times: number[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < R; i++) {
    const t = performance.now();
    const res = await app.request(`/v1/audit?limit=100${query}${cursor ? `&cursor=${cursor}` : ""}`, { headers: auth });
    const body = (await res.json()) as { nextCursor: string | null };
    times.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(body)}`);
    cursor = body.nextCursor;
  }
  return times;
}
const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString();
for (const [name, query] of [["the whole trail", ""], ["one subscription", "&subscription=s7"], ["since a week ago", `&since=${weekAgo}`]] as const) {
  const times = await walk(query);
  say(`${name.padEnd(18)} pages of 100: p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}, first ${ms(times[0] ?? 0)}, last ${ms(times.at(-1) ?? 0)}`);
}
await close();
