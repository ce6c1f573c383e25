import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { loadConfig } from "../../../src/config.js";
import { startService } from "../../../src/server.js";
import { RecordingEngine } from "../../support/recording-engine.js";

const run = promisify(execFile);
const RULES = "deploy/prometheus/alerts.yml";
const RULE_TESTS = ["deploy/prometheus/alerts.test.yml", "deploy/prometheus/billing-alerts.test.yml"];
const DASHBOARD = "deploy/grafana/openstack-tenants.json";

const Rules = z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(z.object({ alert: z.string(), expr: z.string() })) })) });
const Target = z.object({ refId: z.string(), expr: z.string().min(1), datasource: z.object({ uid: z.string() }) });
const Dashboard = z.object({
  uid: z.string(), title: z.string(),
  panels: z.array(z.object({ id: z.number().int(), type: z.string(), title: z.string(), targets: z.array(Target).optional() })),
});

// PromQL words that are not metric names (https://prometheus.io/docs/prometheus/latest/querying/operators/).
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2"]);

/**
 * The metric names a PromQL expression selects: strings, label matchers, ranges, grouping lists and
 * Grafana's `$variables` removed, then every identifier that is neither a keyword nor a function call.
 */
function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, word, call] = m;
    if (word && !call && !KEYWORDS.has(word.toLowerCase())) names.add(word);
  }
  return [...names];
}

/** Every metric name a scrape exposes: families from HELP/TYPE lines (a histogram's three series too), and samples. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type?.[1]) {
      names.add(type[1]);
      if (type[2] === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(type[1] + s);
      if (type[2] === "summary") for (const s of ["_sum", "_count"]) names.add(type[1] + s);
    } else if (line && !line.startsWith("#")) {
      names.add(line.split(/[{ ]/)[0] as string);
    }
  }
  return names;
}

let promtool: string;
beforeAll(async () => {
  // Installs Debian's prometheus package on a fresh machine (as the test cloud installs its packages).
  promtool = (await run("bash", ["scripts/promtool.sh"], { timeout: 600_000 })).stdout.trim();
}, 600_000);

describe("the alert rules and the dashboard shipped in deploy/", () => {
  it("promtool checks the alert rules and finds every alert the README describes", async () => {
    const { stdout } = await run(promtool, ["check", "rules", RULES]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
    const alerts = Rules.parse(parse(readFileSync(RULES, "utf8"))).groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(expect.arrayContaining(["TenantsFailed", "TenantsHeld", "TenantsDeadLetters", "TenantsCloudesireOutboxStuck", "TenantsDrifted", "TenantsRolloutHalted", "TenantsEngineUnavailable", "TenantsBillingRunMissing"]));
    const readme = readFileSync("README.md", "utf8");
    for (const a of alerts) expect(readme, `README explains ${a}`).toContain(`\`${a}\``);
  });

  it("the rules fire as their unit tests say: a failed tenant counted once across replicas, the engine unavailable, a halted rollout, an unbilled month", async () => {
    const { stdout } = await run(promtool, ["test", "rules", ...RULE_TESTS]).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`promtool test rules failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    });
    expect(stdout.match(/SUCCESS/g)).toHaveLength(RULE_TESTS.length);
  });

  it("the dashboard is a Grafana dashboard whose every panel queries the chosen Prometheus", () => {
    const dash = Dashboard.parse(JSON.parse(readFileSync(DASHBOARD, "utf8")));
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const queried = dash.panels.filter((p) => p.type !== "row");
    expect(queried.length).toBeGreaterThan(10);
    for (const p of queried) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource.uid).toBe(`\${datasource}`);
    }
  });

  it("reads metric names out of PromQL: not functions, keywords, labels, ranges or Grafana variables", () => {
    expect(metricNamesOf('histogram_quantile(0.95, sum by (le, route) (rate(x_seconds_bucket{status=~"5.."}[$__rate_interval]))) / on (instance) y_total offset 5m')).toEqual(["x_seconds_bucket", "y_total"]);
    expect(metricNamesOf("(time() - max(a) > 35 * 86400) and max(a) > 0")).toEqual(["a"]);
  });

  it("every metric either file uses is in the running service's /metrics", async () => {
    const rules = Rules.parse(parse(readFileSync(RULES, "utf8"))).groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
    const panels = Dashboard.parse(JSON.parse(readFileSync(DASHBOARD, "utf8"))).panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
    const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "alerts-svc-")), PORT: "0", HOST: "127.0.0.1", WEBHOOK_SECRET: "whsec-alerts-0123456789", OPERATOR_TOKEN: "op-token-alerts-0123456789", LOG_LEVEL: "error" });
    const svc = await startService(config, { engine: new RecordingEngine() });
    let exposed: Set<string>;
    try {
      const res = await fetch(`${svc.url}/metrics`);
      expect(res.status).toBe(200);
      exposed = exposedNames(await res.text());
    } finally {
      await svc.close();
    }
    const unknown: string[] = [];
    for (const { where, expr } of [...rules, ...panels]) {
      const names = metricNamesOf(expr);
      expect(names.length, `${where} selects a metric`).toBeGreaterThan(0);
      for (const n of names) if (!exposed.has(n)) unknown.push(`${where}: ${n}`);
    }
    expect(unknown).toEqual([]);
  }, 120_000);
});
