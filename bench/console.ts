/**
 * The console's weight and speed (issue 23: a first load under 150 kB of JavaScript gzipped; a page of
 * 100 subscriptions rendered in under 200 ms). Prints figures; asserts nothing.
 *
 * - the bundle as the service serves it (/console/console.js: esbuild, minified), raw and gzipped (level
 *   9, what a compressing proxy sends; the service itself sends it uncompressed on loopback);
 * - in Debian's chromium (headless, as the browser tests drive it), against the service with the engine
 *   double and N ready subscriptions: the first load (navigation to the fleet view drawn), then R times
 *   the subscriptions view with a page of 100: from the change of address to 100 rows in the document
 *   (its API read included), the median and the worst; and, as a baseline in the same run, the same
 *   switch to the fleet view (a few small tables).
 *   Usage: npx tsx bench/console.ts [subscriptions=150] [repeats=15]
 */
import { gzipSync } from "node:zlib";
import { consoleBundle } from "../src/api/console-routes.js";
import { openBrowser } from "../test/support/browser.js";
import { event } from "../test/support/events.js";
import { harness, OPERATOR_TOKEN } from "../test/support/harness.js";
import { listen } from "../test/support/local-server.js";

const N = Number(process.argv[2] ?? 150);
const R = Number(process.argv[3] ?? 15);
const say = (line: string) => process.stdout.write(`${line}\n`);
const kB = (n: number) => `${(n / 1024).toFixed(1)} kB`;
const ms = (x: number) => `${x.toFixed(1)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const started = performance.now();
const js = await consoleBundle();
const built = performance.now() - started;
say(`bundle: ${kB(Buffer.byteLength(js))} raw, ${kB(gzipSync(js, { level: 9 }).length)} gzipped (built by esbuild in ${ms(built)})`);

const h = await harness();
for (let i = 0; i < N; i++) await h.send(event(`b${String(i).padStart(4, "0")}`, "subscription.created"));
await h.reconciler.idle();
const server = await listen(h.app);
const browser = await openBrowser();
try {
  const page = await browser.context.newPage();
  const t0 = performance.now();
  await page.goto(`${server.url}/console`);
  await page.getByLabel("Operator token").fill(OPERATOR_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Fleet" }).waitFor();
  await page.getByRole("heading", { name: "Subscriptions by phase" }).waitFor();
  say(`first load to the fleet view drawn (login typed in): ${ms(performance.now() - t0)}`);

  /** From setting the address to `rows` rows in the view's table, measured in the page (no protocol round trips). */
  // A string, not a function: tsx's transform adds helpers (__name) a serialized function would miss in the page.
  const switchTo = (hash: string, selector: string, rows: number) =>
    page.evaluate<number>(`new Promise((resolve) => {
      const t = performance.now();
      location.hash = ${JSON.stringify(hash)};
      const look = () => (document.querySelectorAll(${JSON.stringify(selector)}).length >= ${rows} ? resolve(performance.now() - t) : requestAnimationFrame(look));
      look();
    })`);
  /** How long the browser waited for the newest read of the list (its share of the time above). */
  const lastRead = () =>
    page.evaluate<number>(`performance.getEntriesByType("resource").filter((e) => e.name.includes("/v1/subscriptions?")).at(-1)?.duration ?? 0`);
  const list: number[] = [];
  const reads: number[] = [];
  const fleet: number[] = [];
  for (let i = 0; i < R; i++) {
    fleet.push(await switchTo("#/fleet", "table.counts tbody tr", 7));
    list.push(await switchTo(`#/subscriptions?r=${i}`, "table.subscriptions tbody tr", 100));
    reads.push(await lastRead());
  }
  say(`a page of 100 subscriptions (of ${N}), address to rows drawn: median ${ms(median(list))}, worst ${ms(Math.max(...list))} (${R} times)`);
  say(`  of which the API read of the page: median ${ms(median(reads))}; the rest (rendering, in the page): median ${ms(median(list.map((t, i) => t - (reads[i] ?? 0))))}`);
  say(`baseline, the fleet view the same way: median ${ms(median(fleet))}, worst ${ms(Math.max(...fleet))}`);
} finally {
  await browser.close();
  await server.close();
  await h.close();
}
process.exit(0);
