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
import type { PlacementReading } from "../../../src/provisioning/capacity.js";
import { harness } from "../../support/harness.js";
import { event, PREPAID } from "../../support/events.js";
import { RecordingEngine } from "../../support/recording-engine.js";
import { TWO_TARGETS } from "../../support/settings.js";

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

/** Every sample of a scrape: its metric name and labels. */
function samplesOf(text: string): Array<{ name: string; labels: Record<string, string> }> {
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((line) => {
    const name = line.split(/[{ ]/)[0] as string;
    const labels = Object.fromEntries([...(/\{(.*)\}/.exec(line)?.[1] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    return { name, labels };
  });
}

/**
 * What a query asks of series that no sample of the scrape has: an unknown metric, a label matcher
 * (`label="value"`) whose value no series of that metric carries, a grouping (`by (…)`) by a label none of
 * the query's metrics has. Such a panel stays empty in Grafana, whatever happens to the fleet.
 */
function unansweredSelectors(expr: string, samples: ReturnType<typeof samplesOf>): string[] {
  const problems: string[] = [];
  const metrics = metricNamesOf(expr);
  const of = (metric: string) => samples.filter((s) => s.name === metric);
  for (const metric of metrics) if (of(metric).length === 0) problems.push(`no series of ${metric}`);
  for (const m of expr.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)) {
    for (const [, label, value] of (m[2] ?? "").matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) {
      if (!of(m[1] as string).some((s) => s.labels[label as string] === value)) problems.push(`no series of ${m[1]} with ${label}="${value}"`);
    }
  }
  for (const m of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
    for (const label of (m[1] ?? "").split(",").map((l) => l.trim()).filter(Boolean)) {
      if (!metrics.some((metric) => of(metric).some((s) => label in s.labels))) problems.push(`no label ${label} on ${metrics.join(", ")}`);
    }
  }
  return problems;
}

/** The service's scrape when it sells in two targets (`two` does not answer), each with a hypervisor in its Placement. */
async function twoTargetScrape(): Promise<ReturnType<typeof samplesOf>> {
  const reading: PlacementReading = { physical: { VCPU: 16, MEMORY_MB: 65536, DISK_GB: 1000 }, used: { VCPU: 2, MEMORY_MB: 4096, DISK_GB: 20 }, providers: 1 };
  const h = await harness({
    settings: TWO_TARGETS,
    targets: {
      problem: async (t) => (t === "two" ? "target two does not answer: cannot reach compute" : null),
      capacity: ["one", "two"].map((name) => ({ name, selling: {}, placement: async () => reading })),
    },
  });
  try {
    await h.send(event("t1", "subscription.created", { plan: { ...PREPAID, target: "two" } }));
    await h.reconciler.idle();
    return samplesOf(await (await h.app.request("/metrics")).text());
  } finally {
    await h.reconciler.stop();
    await h.close();
  }
}

const PER_TARGET = /^tenants_target_/;
const dashboardQueries = () =>
  Dashboard.parse(JSON.parse(readFileSync(DASHBOARD, "utf8"))).panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

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

  it("the dashboard shows each target: sold against sellable per target and resource, and whether it answers", () => {
    const queries = dashboardQueries().map((q) => q.expr.replace(/\s+/g, " "));
    const selects = (re: RegExp) => queries.some((e) => re.test(e));
    expect(selects(/by \(target, resource\) \(tenants_target_capacity\{kind="sold"\}\)/), "sold per target and resource").toBe(true);
    expect(selects(/by \(target, resource\) \(tenants_target_capacity\{kind="sellable"\}\)/), "sellable per target and resource").toBe(true);
    expect(selects(/by \(target\) \(tenants_target_up\)/), "up or down per target").toBe(true);
    expect(selects(/by \(target, phase\) \(tenants_target_subscriptions\)/), "subscriptions per target").toBe(true);
  });

  it("every per-target panel selects series a service selling in two targets exports: its metrics, label values and groupings", async () => {
    const samples = await twoTargetScrape();
    const perTarget = dashboardQueries().filter((q) => metricNamesOf(q.expr).some((n) => PER_TARGET.test(n)));
    expect(perTarget.length).toBeGreaterThanOrEqual(4);
    const problems = perTarget.flatMap((q) => unansweredSelectors(q.expr, samples).map((p) => `panel "${q.panel}": ${p}`));
    expect(problems).toEqual([]);
    // The check itself: a misspelled metric, a label value never exported and a grouping by a missing label are caught.
    expect(unansweredSelectors('max by (target) (tenants_target_capacities{kind="sold"})', samples)).toContain("no series of tenants_target_capacities");
    expect(unansweredSelectors('max by (target) (tenants_target_capacity{kind="sellabel"})', samples)).toEqual(['no series of tenants_target_capacity with kind="sellabel"']);
    expect(unansweredSelectors("max by (region) (tenants_target_up)", samples)).toEqual(["no label region on tenants_target_up"]);
  }, 120_000);

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
