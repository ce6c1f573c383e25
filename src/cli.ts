#!/usr/bin/env node
/**
 * tenantctl: the operator CLI. `serve` runs the service; `render` works offline; the other commands talk
 * to a running service over its HTTP API (TENANTCTL_URL, operator token from OPERATOR_TOKEN or the
 * data directory).
 *
 * Exit codes: 0 done; 1 the service or the cloud failed; 2 bad usage or bad input; 3 service unreachable.
 */
import { readFileSync } from "node:fs";
import { ConfigError, loadCliConfig, loadConfig, loadDoctorConfig, loadTenantSettings } from "./config.js";
import { doctor } from "./openstack/doctor.js";
import { SubscriptionSnapshot } from "./domain/event.js";
import { stackNameOf } from "./domain/subscription-id.js";
import { tenantSpecOf } from "./domain/tenant-spec.js";
import { renderTenant } from "./program/render.js";
import { startService } from "./server.js";

class UsageError extends Error {}
class ServiceError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

const USAGE = `usage: tenantctl <command> [args] [--json]
  serve                         run the service (HTTP API + reconcile workers)
  list [--phase P]              subscriptions and their state
  show <id>                     one subscription: desired state, phase, outputs, last operations
  preview <id>                  what an update of the subscription's stack would change
  history <id>                  the stack's update history (the audit log)
  retry <id>                    apply a subscription's desired state again (after a failure)
  render <subscription.json|->  what the program declares for a subscription (offline, no credentials)
  bill --period YYYY-MM          run the billing of a closed month (once; again returns the same run)
  invoices <run-id> [--csv]     the invoices of a billing run
  doctor                        check the OpenStack admin credentials, member role and catalog
  pulumi-env                    shell exports to run 'pulumi preview --stack sub-<id>' by hand`;

async function main(argv: string[]): Promise<void> {
  const json = argv.includes("--json");
  const args = argv.filter((a) => a !== "--json");
  const [command, ...rest] = args;
  switch (command) {
    case "serve":
      return serveCommand();
    case "render":
      return renderCommand(rest[0]);
    case "list": {
      const phaseAt = rest.indexOf("--phase");
      const phase = phaseAt >= 0 ? rest[phaseAt + 1] : undefined;
      const body = await api("GET", `/v1/subscriptions${phase ? `?phase=${encodeURIComponent(phase)}` : ""}`);
      const subs = (body as { subscriptions: Array<Record<string, unknown>> }).subscriptions;
      if (json) return print(body);
      return table(subs.map((s) => ({ id: s.id, stack: s.stack, status: s.status, phase: s.phase, plan: (s.plan as { model: string }).model, error: s.lastError ?? "" })));
    }
    case "show":
      return print(await api("GET", `/v1/subscriptions/${idArg(rest[0])}`));
    case "preview": {
      const body = (await api("POST", `/v1/subscriptions/${idArg(rest[0])}/preview`)) as { text: string };
      return json ? print(body) : void process.stdout.write(body.text);
    }
    case "history": {
      const body = (await api("GET", `/v1/subscriptions/${idArg(rest[0])}/history`)) as { history: Array<Record<string, unknown>> };
      if (json) return print(body);
      return table(body.history.map((h) => ({ version: h.version, kind: h.kind, result: h.result, started: h.startTime, message: h.message })));
    }
    case "retry": {
      const body = await api("POST", `/v1/subscriptions/${idArg(rest[0])}/retry`);
      return json ? print(body) : console.log(`retry of ${rest[0]} accepted`);
    }
    case "bill": {
      const at = rest.indexOf("--period");
      const period = at >= 0 ? rest[at + 1] : undefined;
      if (!period) throw new UsageError("bill needs --period YYYY-MM");
      const body = (await api("POST", "/v1/billing-runs", { period })) as { created: boolean; run: Record<string, unknown> };
      if (json) return print(body);
      const r = body.run;
      console.log(`${body.created ? "billed" : "already billed"} ${String(r.period)}: run ${String(r.id)}, ${String(r.invoiceCount)} invoices, total ${String(r.total)} ${String(r.currency)}`);
      console.log(`  invoices: tenantctl invoices ${String(r.id)} [--csv]`);
      return;
    }
    case "invoices": {
      const id = idArg(rest[0]);
      if (rest.includes("--csv")) return void process.stdout.write(await apiText(`/v1/billing-runs/${id}/invoices.csv`));
      const body = (await api("GET", `/v1/billing-runs/${id}`)) as { invoices: Array<{ subscriptionId: string; total: string; currency: string }> };
      if (json) return print(body);
      return table(body.invoices.map((i) => ({ subscription: i.subscriptionId, total: i.total, currency: i.currency })));
    }
    case "doctor": {
      const c = loadDoctorConfig();
      const findings = await doctor(c.credentials, c.memberRole);
      if (json) print(findings);
      else for (const f of findings) console.log(`${f.status.toUpperCase().padEnd(4)}  ${f.check}: ${f.message}`);
      if (findings.some((f) => f.status === "fail")) process.exitCode = 1;
      return;
    }
    case "pulumi-env": {
      const c = loadCliConfig();
      console.log(`export PULUMI_BACKEND_URL='${c.backendUrl}'`);
      console.log(`export PULUMI_CONFIG_PASSPHRASE_FILE='${c.passphraseFile}'`);
      console.log("# then, from the repository root: pulumi preview --stack sub-<id>; pulumi stack history --stack sub-<id>");
      return;
    }
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return;
    default:
      throw new UsageError(`unknown command '${command}'\n${USAGE}`);
  }
}

async function serveCommand(): Promise<void> {
  const service = await startService(loadConfig());
  const shutdown = () => {
    void service.close().then(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

async function renderCommand(file: string | undefined): Promise<void> {
  if (!file) throw new UsageError("render needs a file with a subscription object (or - for stdin)");
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not valid JSON`);
  }
  // Accept either a subscription object or a whole webhook event.
  const candidate = typeof raw === "object" && raw !== null && "subscription" in raw ? (raw as { subscription: unknown }).subscription : raw;
  const parsed = SubscriptionSnapshot.safeParse(candidate);
  if (!parsed.success) {
    throw new UsageError(`invalid subscription: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  }
  const sub = parsed.data;
  const at = new Date(0).toISOString();
  const spec = tenantSpecOf(
    {
      id: sub.id, customer: sub.customer, plan: sub.plan, status: "active",
      planClock: { at, id: "render" }, statusClock: null,
      lastEvent: { id: "render", type: "subscription.created", occurredAt: at },
    },
    loadTenantSettings(),
  );
  const resources = await renderTenant(spec);
  print({ stack: stackNameOf(sub.id), resources });
}

function idArg(id: string | undefined): string {
  if (!id) throw new UsageError("a subscription id is required");
  return encodeURIComponent(id);
}

async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const c = loadCliConfig();
  if (!c.token) throw new UsageError(`no operator token: set OPERATOR_TOKEN or run the service once with DATA_DIR=${c.dataDir}`);
  let res: Response;
  try {
    res = await fetch(`${c.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${c.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ServiceError(`cannot reach the service at ${c.url} (is 'tenantctl serve' running? set TENANTCTL_URL)`, 3);
  }
  if (!res.ok) {
    const p = (await res.json().catch(() => ({}))) as { title?: string; detail?: unknown };
    const detail = p.detail === undefined ? "" : `: ${typeof p.detail === "string" ? p.detail : JSON.stringify(p.detail)}`;
    throw new ServiceError(`${res.status} ${p.title ?? res.statusText}${detail}`, res.status < 500 ? 2 : 1);
  }
  return res;
}

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  return (await request(method, path, body)).json();
}

async function apiText(path: string): Promise<string> {
  return (await request("GET", path)).text();
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function table(rows: Array<Record<string, unknown>>): void {
  if (rows.length === 0) return console.log("(none)");
  const cols = Object.keys(rows[0] ?? {});
  const cell = (v: unknown) => (v === null || v === undefined ? "" : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  console.log(line(cols.map((c) => c.toUpperCase())));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`tenantctl: ${message.split("\n")[0]}\n`);
  if (e instanceof UsageError || e instanceof ConfigError) process.exit(2);
  if (e instanceof ServiceError) process.exit(e.exitCode);
  process.exit(1);
});
