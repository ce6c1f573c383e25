/**
 * How long `tenantctl list` takes, start to exit, against a running service holding 20 subscriptions
 * (issue 24: under 1 s on the 2-core machine). Each way of running it is timed R times, one after the
 * other, in the same run: the package's `bin/tenantctl.js` (what `npx tenantctl` runs), `node --import
 * tsx src/cli.ts` (what the tests run), `npm run tenantctl --` (npm's own start added), and, as the
 * baseline, the way bin/tenantctl.js ran it before: a second node process spawned with tsx's loader.
 * The service (embedded PGlite, an engine that returns at once) runs in its own process. Prints figures;
 * asserts nothing.
 *   Usage: npx tsx bench/cli.ts [runs=10]
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signWebhook } from "../src/domain/webhook-signature.js";

const R = Number(process.argv[2] ?? 10);
const TOKEN = "bench-operator-token-0123456789";
const SECRET = "bench-webhook-secret-0123456789";
const say = (line: string) => process.stdout.write(`${line}\n`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

const dataDir = mkdtempSync(join(tmpdir(), "tenants-cli-bench-"));
const env = { ...process.env, DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", OPERATOR_TOKEN: TOKEN, WEBHOOK_SECRET: SECRET, LOG_LEVEL: "error" };
const service = spawn(process.execPath, ["--import", "tsx", "bench/support/service-child.ts"], { env, stdio: ["ignore", "pipe", "inherit"] });
const url = await new Promise<string>((resolve, reject) => {
  service.stdout.once("data", (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url));
  service.once("exit", (code) => reject(new Error(`the service exited (${code})`)));
});

try {
  for (let i = 1; i <= 20; i++) {
    const raw = JSON.stringify({
      id: `evt-bench-${i}`, type: "subscription.created", occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      subscription: { id: String(i), customer: { id: "c-1", name: "Bench Ltd", email: "ops@example.com" }, plan: { model: "prepaid", cores: 2, ramGb: 4, diskGb: 20, floatingIps: 1 } },
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await fetch(`${url}/v1/events`, { method: "POST", body: raw, headers: { "content-type": "application/json", "x-timestamp": ts, "x-signature": signWebhook(SECRET, ts, raw) } });
    if (res.status !== 202) throw new Error(`event ${i}: ${res.status}`);
  }
  // The old bin/tenantctl.js, verbatim: node started again with tsx's loader.
  const oldBin = join(dataDir, "tenantctl-spawning.mjs");
  writeFileSync(oldBin, `import { spawnSync } from "node:child_process";
const tsx = ${JSON.stringify(import.meta.resolve("tsx"))};
const r = spawnSync(process.execPath, ["--import", tsx, ${JSON.stringify(join(process.cwd(), "src", "cli.ts"))}, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(r.status ?? 1);
`);
  const cliEnv = { ...process.env, DATA_DIR: dataDir, TENANTCTL_URL: url, OPERATOR_TOKEN: TOKEN };
  const ways: Array<[string, string, string[]]> = [
    ["bin/tenantctl.js (npx tenantctl)", process.execPath, ["bin/tenantctl.js", "list"]],
    ["node --import tsx src/cli.ts", process.execPath, ["--import", "tsx", "src/cli.ts", "list"]],
    ["npm run tenantctl -- list", "npm", ["run", "--silent", "tenantctl", "--", "list"]],
    ["baseline: the spawning bin/tenantctl.js", process.execPath, [oldBin, "list"]],
  ];
  // One call each first: tsx's transform cache is warm for all, as on an operator's machine.
  for (const [, cmd, args] of ways) execFileSync(cmd, args, { env: cliEnv, stdio: "pipe" });
  const times = new Map<string, number[]>(ways.map(([name]) => [name, []]));
  for (let r = 0; r < R; r++) {
    for (const [name, cmd, args] of ways) {
      const t0 = performance.now();
      const out = execFileSync(cmd, args, { env: cliEnv, stdio: "pipe" }).toString();
      times.get(name)?.push(performance.now() - t0);
      if (!/^20\s+sub-20/m.test(out)) throw new Error(`${name}: unexpected output ${out.slice(0, 200)}`);
    }
  }
  const base = pct(times.get(ways[3]![0]) ?? [], 50);
  say(`tenantctl list, 20 subscriptions, ${R} runs each (load average ${(await import("node:os")).loadavg()[0]?.toFixed(1)} on ${(await import("node:os")).availableParallelism()} cores)`);
  for (const [name, xs] of times) {
    say(`  ${name.padEnd(42)} median ${(pct(xs, 50) / 1000).toFixed(2)} s  p90 ${(pct(xs, 90) / 1000).toFixed(2)} s  max ${(Math.max(...xs) / 1000).toFixed(2)} s  (${(pct(xs, 50) / base).toFixed(2)} x baseline)`);
  }
} finally {
  service.kill("SIGINT");
  rmSync(dataDir, { recursive: true, force: true });
}
