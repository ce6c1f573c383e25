#!/usr/bin/env node
/**
 * tenantctl: the operator CLI. `serve` runs the service; `render` works offline; the other commands talk
 * to a running service over its HTTP API (TENANTCTL_URL, operator token from OPERATOR_TOKEN or the
 * data directory).
 *
 * Exit codes (also in USAGE and the README): 0 done; 1 the service, the cloud or a watched operation
 * failed; 2 bad usage or bad input, or a 4xx from the service; 3 the service cannot be reached.
 */
import { readFileSync } from "node:fs";
import type { z } from "zod";
import type * as S from "./api/schemas.js";
import type * as CapacityApi from "./api/capacity-routes.js";
import { ConfigError, configReference, configReferenceMarkdown, loadCliConfig, loadCloudesireConfig, loadConfig, loadTenantSettings } from "./config.js";
import { ServiceClient, ServiceError, UsageError } from "./cli/client.js";
import { commandHelp, type Parsed, parseCommandLine } from "./cli/args.js";
import { COMMANDS, USAGE } from "./cli/commands.js";
import { fields, print, printable, say, table } from "./cli/format.js";
import { nextPageHint, onePage, pageRequestOf, readList, type PageRequest } from "./cli/pages.js";
import { watchOperation } from "./cli/watch.js";
import { rolloutCommand } from "./cli/rollout.js";
import { auditCommand, operatorCommand } from "./cli/operators.js";

type Args = Parsed;

/** `--limit N` / `--cursor C`: one page of a list instead of all of it. */
const pageOf = (a: Args) => pageRequestOf(flag(a, "limit"), flag(a, "cursor"));

/**
 * A list as asked: JSON (with `nextCursor` when one page was asked for) or a table; after one page in a
 * table, the same command with the next page's cursor.
 */
function showList<T>(a: Args, page: PageRequest, key: string, body: { items: T[]; nextCursor: string | null }, render: (items: T[]) => void): void {
  if (a.json) {
    print({ [key]: body.items, ...(onePage(page) ? { nextCursor: body.nextCursor } : {}) });
    return;
  }
  render(body.items);
  if (!onePage(page)) return;
  nextPageHint(sameCommand(a), body.nextCursor);
}

/** The command as given but its --cursor: what gets the next page. */
function sameCommand(a: Args): string {
  const options = Object.entries(a.options).filter(([k, v]) => k !== "cursor" && v !== undefined && v !== false).map(([k, v]) => (v === true ? `--${k}` : `--${k} ${v}`));
  return [a.command.name, ...a.positionals, ...options].join(" ");
}

const flag = (a: Args, name: string): string | undefined => {
  const v = a.options[name];
  return typeof v === "string" ? v : undefined;
};
const has = (a: Args, name: string): boolean => a.options[name] === true;

function idArg(id: string | undefined): string {
  if (!id) throw new UsageError("a subscription id is required");
  return encodeURIComponent(id);
}

/** A response body as the API's own schema declares it (api/schemas.ts): a change there is a type error here. */
type Body<T extends z.ZodType> = z.output<T>;

async function main(argv: string[]): Promise<void> {
  const a = parseCommandLine(argv, COMMANDS);
  if (a.command === undefined) return say("topic" in a && a.topic ? commandHelp(a.topic) : USAGE);
  if (a.help) return say(commandHelp(a.command));
  const rest = a.positionals;
  const api = () => new ServiceClient();
  switch (a.command.name) {
    case "serve":
      return serveCommand();
    case "render":
      return renderCommand(rest[0]);
    case "list": {
      const q = new URLSearchParams();
      for (const name of ["phase", "status", "target"]) {
        const v = flag(a, name);
        if (v) q.set(name, v);
      }
      const page = pageOf(a);
      const body = await readList(api(), "/v1/subscriptions", q, (b: Body<typeof S.SubscriptionList>) => b.subscriptions, page);
      // The plan is not a filter of the API: a page shown with --plan may hold fewer than --limit rows.
      const plan = flag(a, "plan");
      const subs = body.items.filter((s) => !plan || s.plan.model === plan);
      return showList(a, page, "subscriptions", { ...body, items: subs }, (ss) =>
        table(ss.map((s) => ({ id: s.id, stack: s.stack, status: s.status, phase: s.phase, plan: s.plan.model, error: s.lastError ?? "" }))));
    }
    case "targets": {
      const body = await api().json<Body<typeof CapacityApi.TargetList>>("GET", "/v1/targets");
      if (a.json) return print(body);
      return table(body.targets.map((t) => ({ target: t.name, label: t.label, region: t.region, default: t.default ? "yes" : "", problem: t.problem ?? "" })));
    }
    case "capacity": {
      const body = await api().json<Body<typeof CapacityApi.CapacityList>>("GET", "/v1/capacity");
      if (a.json) return print(body);
      return table(body.targets.flatMap((t) => (["VCPU", "MEMORY_MB", "DISK_GB"] as const).map((r) => ({
        target: t.target, resource: r, sold: t.sold[r] ?? 0, sellable: t.sellable?.[r] ?? "?", physical: t.physical?.[r] ?? "?", used: t.used?.[r] ?? "?",
        left: t.sellable ? Math.max(0, (t.sellable[r] ?? 0) - (t.sold[r] ?? 0)) : "?", problem: t.problem ?? "",
      }))));
    }
    case "show": {
      const s = await api().json<Body<typeof S.SubscriptionDetail>>("GET", `/v1/subscriptions/${idArg(rest[0])}`);
      if (a.json) return print(s);
      fields([
        ["subscription", s.id], ["stack", s.stack], ["status", s.status], ["phase", s.phase],
        ["plan", s.plan], ["customer", `${s.customer.name} <${s.customer.email}>`],
        ["last event", `${s.lastEvent.id} ${s.lastEvent.type} at ${s.lastEvent.occurredAt}`],
        ["generation", `${s.appliedGeneration} applied of ${s.generation}`], ["error", s.lastError],
        ["project id", s.outputs?.projectId], ["user", s.outputs?.userName], ["auth url", s.outputs?.authUrl],
        ["drift", s.drift ? `${s.drift.state} (checked ${s.drift.checkedAt})` : "never checked"],
      ]);
      say("");
      table(s.operations.map((o) => ({ op: o.id, kind: o.kind, event: o.eventId, result: o.result, started: o.startedAt, error: o.error ?? "" })));
      return showCloudesire(api(), s.id);
    }
    case "preview": {
      const body = await api().json<Body<typeof S.PreviewResponse>>("POST", `/v1/subscriptions/${idArg(rest[0])}/preview`);
      if (a.json) return print(body);
      say(body.text.replace(/\n$/, ""));
      return say(`summary: ${Object.entries(body.changeSummary).map(([k, n]) => `${n} ${k}`).join(", ") || "no changes"}`);
    }
    case "history": {
      const body = await api().json<Body<typeof S.HistoryResponse>>("GET", `/v1/subscriptions/${idArg(rest[0])}/history`);
      if (a.json) return print(body);
      return table(body.history.map((h) => ({
        version: h.version, kind: h.kind, result: h.result, started: h.startTime,
        // Every update message starts with what caused it: an event id, "operator retry" or "drift repair".
        event: h.message.match(/^(evt[^\s]*|[^\s(]+)/)?.[0] ?? "", changes: h.resourceChanges, message: h.message,
      })));
    }
    case "retry": {
      const before = has(a, "watch") ? (await latestOperation(api(), idArg(rest[0]))).op ?? 0 : 0;
      const body = await api().json<Body<typeof S.RetryAccepted>>("POST", `/v1/subscriptions/${idArg(rest[0])}/retry`);
      if (has(a, "watch")) return watchLatest(api(), body.subscription.id, undefined, a, before);
      return a.json ? print(body) : say(`retry of ${body.subscription.id} accepted (tenantctl watch ${body.subscription.id})`);
    }
    case "rotate-password": {
      const before = has(a, "watch") ? (await latestOperation(api(), idArg(rest[0]))).op ?? 0 : 0;
      const body = await api().json<Body<typeof S.RetryAccepted>>("POST", `/v1/subscriptions/${idArg(rest[0])}/rotate-password`);
      if (has(a, "watch")) return watchLatest(api(), body.subscription.id, undefined, a, before);
      return a.json ? print(body) : say(`new Keystone credentials for ${body.subscription.id} requested (tenantctl watch ${body.subscription.id})`);
    }
    case "watch": {
      const op = flag(a, "op");
      return watchLatest(api(), idArg(rest[0]), op === undefined ? undefined : Number(op), a);
    }
    case "drift":
    case "drift check":
    case "drift repair":
    case "drift accept":
      return driftCommand(api(), a.command.name.split(" ")[1], rest[0], a);
    case "dead-letters":
      return deadLettersCommand(api(), a);
    case "cloudesire doctor":
    case "cloudesire sync":
    case "cloudesire resolve":
      return cloudesireCommand(api, a.command.name.split(" ")[1], rest, a);
    case "bill": {
      const period = flag(a, "period");
      if (!period) throw new UsageError("bill needs --period YYYY-MM");
      const body = await api().json<Body<typeof S.BillingRunCreated>>("POST", "/v1/billing-runs", { period, ...(has(a, "rerate") ? { rerate: true } : {}) });
      if (a.json) return print(body);
      const r = body.run;
      if (has(a, "rerate") && !body.created) say(`re-rated ${r.period}: nothing changed, no run stored (run ${r.id} stands)`);
      else if (r.kind === "rerate") {
        const changed = (r.changes ?? []).filter((c) => c.change !== "unchanged");
        say(`re-rated ${r.period}: run ${r.id}, ${changed.length} charges changed, ${(r.changes ?? []).length - changed.length} unchanged (nothing issued for those)`);
        const v = (x: { version: number; total: string } | null) => (x ? `v${x.version} ${x.total}` : "-");
        if (changed.length > 0) table(changed.map((c) => ({ subscription: c.subscriptionId, change: c.change, before: v(c.before), after: v(c.after) })));
      } else say(`${body.created ? "billed" : "already billed"} ${r.period}: run ${r.id}, ${r.invoiceCount} invoices, total ${r.total} ${r.currency}`);
      // Per target (issue 33): what each region's or cloud's tenants were invoiced, adding up to the total
      // (a re-rating's: the versions it issued; none when it stored nothing).
      if (body.created || !has(a, "rerate")) for (const t of r.targetTotals ?? []) say(`  target ${t.target}: ${t.invoiceCount} invoices, total ${t.total} ${t.currency}`);
      if (r.delivery) say(`  delivery: ${deliveryLine(r.id, r.delivery)}`);
      say(`  invoices: tenantctl invoices ${r.id} [--csv]`);
      return;
    }
    case "invoices": {
      const id = idArg(rest[0]);
      if (has(a, "csv")) return void process.stdout.write(printable(await api().text(`/v1/billing-runs/${id}/invoices.csv`)));
      const body = await api().json<Body<typeof S.BillingRunDetail>>("GET", `/v1/billing-runs/${id}`);
      if (a.json) return print(body);
      if (body.run.delivery) say(`delivery: ${deliveryLine(body.run.id, body.run.delivery)}`);
      return table([
        ...body.credits.map((c) => ({ subscription: c.subscriptionId, document: "credit", version: `cancels v${c.cancelsVersion}`, total: c.total, currency: c.currency })),
        ...body.invoices.map((i) => ({ subscription: i.subscriptionId, document: "invoice", version: `v${i.version}`, total: i.total, currency: i.currency })),
      ]);
    }
    case "doctor": {
      // The service's own configuration, checked where it runs: not this shell's environment.
      const body = await api().json<Body<typeof S.DoctorReport>>("GET", "/v1/doctor");
      if (a.json) print(body);
      else for (const f of body.findings) say(`${f.status.toUpperCase().padEnd(4)}  ${f.check}: ${f.message}`);
      if (body.findings.some((f) => f.status === "fail")) process.exitCode = 1;
      return;
    }
    case "config-reference":
      // The README's configuration table is this output (a test keeps them equal).
      if (a.json) return print(configReference());
      return say(configReferenceMarkdown());
    case "pulumi-env": {
      const c = loadCliConfig();
      // The passphrase itself is never printed: from the environment, the operator's shell already has it.
      const env = { PULUMI_BACKEND_URL: c.backendUrl, ...(c.passphraseFile ? { PULUMI_CONFIG_PASSPHRASE_FILE: c.passphraseFile } : {}) };
      if (a.json) return print(env);
      for (const [k, v] of Object.entries(env)) say(`export ${k}='${v}'`);
      if (!c.passphraseFile) say("# PULUMI_CONFIG_PASSPHRASE is set in this environment: pulumi reads it from there");
      say(`# then, from ${c.workDir}: pulumi preview --stack sub-<id>; pulumi stack history --stack sub-<id>`);
      return;
    }
    case "operator add":
    case "operator list":
    case "operator revoke":
      return operatorCommand(api(), a.command.name.split(" ")[1] as string, rest[0], { json: a.json, flag: (name) => flag(a, name), has: (name) => has(a, name) });
    case "audit":
      return auditCommand(api(), { json: a.json, flag: (name) => flag(a, name), has: (name) => has(a, name) }, pageOf(a), sameCommand(a));
    default:
      if (a.command.name.startsWith("rollout ")) return rolloutCommand(api(), [a.command.name.split(" ")[1] as string, ...rest], { json: a.json, flag: (name) => flag(a, name) });
      throw new UsageError(`unknown command '${a.command.name}'`);
  }
}

/** The newest operation id of a subscription (undefined if none yet). */
async function latestOperation(client: ServiceClient, id: string): Promise<{ op: number | undefined; phase: string }> {
  const s = await client.json<Body<typeof S.SubscriptionDetail>>("GET", `/v1/subscriptions/${id}`);
  return { op: s.operations[0]?.id, phase: s.phase };
}

/**
 * Follows an operation: the one named, or the newest one after `newerThan` (a retry just queued waits
 * for its operation to begin), or the newest one. A failed operation exits 1.
 */
async function watchLatest(client: ServiceClient, id: string, op: number | undefined, a: Args, newerThan?: number): Promise<void> {
  let operation = op;
  for (let i = 0; operation === undefined; i++) {
    const latest = await latestOperation(client, id);
    const isNew = latest.op !== undefined && (newerThan === undefined || latest.op > newerThan);
    if (isNew && (latest.phase !== "pending" || newerThan !== undefined)) operation = latest.op;
    else if (i >= 50) {
      if (latest.op === undefined || newerThan !== undefined) throw new ServiceError(`no operation of subscription ${id} began within 10 s`, 1);
      operation = latest.op; // queued behind others: show the last one that ran
    } else await new Promise((r) => setTimeout(r, 200));
  }
  const result = await watchOperation(client, id, operation, { json: a.json, tty: Boolean(process.stdout.isTTY) });
  if (result !== "succeeded") process.exitCode = 1;
}

async function driftCommand(client: ServiceClient, sub: string | undefined, id: string | undefined, a: Args): Promise<void> {
  const rows = (ds: Array<Body<typeof S.Drift>>) =>
    table(ds.map((d) => ({
      subscription: d.subscriptionId, state: d.state, checked: d.checkedAt,
      differences: d.error ?? (d.differences.map((x) => `${x.resource} ${x.change}${x.properties.length ? ` (${x.properties.join(", ")})` : ""}`).join("; ") || "-"),
    })));
  switch (sub) {
    case undefined: {
      const state = flag(a, "state");
      const page = pageOf(a);
      const body = await readList(client, "/v1/drift", new URLSearchParams(state ? { state } : {}), (b: Body<typeof S.DriftPage>) => b.drift, page);
      return showList(a, page, "drift", body, rows);
    }
    case "check": {
      const body = await client.json<Body<typeof S.DriftSweep>>("POST", id ? `/v1/subscriptions/${idArg(id)}/drift/check` : "/v1/drift/checks");
      return a.json ? print(body) : table(body.results.map((r) => ({ subscription: r.subscription, outcome: r.outcome, state: r.state ?? "", reason: r.reason ?? "" })));
    }
    case "repair": {
      const before = has(a, "watch") ? (await latestOperation(client, idArg(id))).op ?? 0 : 0;
      const body = await client.json<Body<typeof S.DriftRepairAccepted>>("POST", `/v1/subscriptions/${idArg(id)}/drift/repair`);
      if (has(a, "watch")) return watchLatest(client, body.subscription.id, undefined, a, before);
      return a.json ? print(body) : say(`repair of ${body.subscription.id} accepted (tenantctl watch ${body.subscription.id})`);
    }
    case "accept": {
      const body = await client.json<Body<typeof S.DriftList>>("POST", `/v1/subscriptions/${idArg(id)}/drift/accept`);
      return a.json ? print(body) : rows(body.drift);
    }
    default:
      throw new UsageError(`unknown drift command '${sub}': drift [--state S] | drift check [<id>] | drift repair <id> | drift accept <id>`);
  }
}

/**
 * Reconcile jobs that failed for good, then Cloudesire's calls waiting for an operator: all of both; or,
 * with --limit/--cursor, one page of one list (a cursor belongs to its list).
 */
async function deadLettersCommand(client: ServiceClient, a: Args): Promise<void> {
  const page = pageOf(a);
  const jobsTable = (ds: Array<Body<typeof S.DeadLetter>>) => table(ds.map((d) => ({ subscription: d.subscription, attempts: d.attempts, failed: d.failedAt, error: d.error })));
  const callsTable = (ds: Array<Body<typeof S.OutboxCallView>>) =>
    table(ds.map((d) => ({ call: d.id, subscription: d.subscriptionId, kind: d.kind, state: d.state, attempts: d.attempts, error: d.lastError ?? "" })));
  const jobs = () => readList(client, "/v1/dead-letters", new URLSearchParams(), (b: Body<typeof S.DeadLetterList>) => b.deadLetters, page);
  const calls = () => readList(client, "/v1/cloudesire/dead-letters", new URLSearchParams(), (b: Body<typeof S.CloudesireDeadCalls>) => b.deadLetters, page);
  if (onePage(page)) {
    return has(a, "cloudesire") ? showList(a, page, "deadLetters", await calls(), callsTable) : showList(a, page, "deadLetters", await jobs(), jobsTable);
  }
  const [j, cd] = [await jobs(), await calls()];
  if (a.json) return print({ deadLetters: j.items, cloudesire: cd.items });
  jobsTable(j.items);
  if (cd.items.length === 0) return;
  say("\ncalls back to Cloudesire waiting for an operator (tenantctl cloudesire resolve <call> sent|resend):");
  return callsTable(cd.items);
}

/** The Cloudesire side of `show`: reads and the outbox, when the subscription was sold there. */
async function showCloudesire(client: ServiceClient, id: string): Promise<void> {
  const res = await client.request("GET", `/v1/cloudesire/subscriptions/${encodeURIComponent(id)}`).catch((e: unknown) => {
    if (e instanceof ServiceError && e.message.startsWith("404")) return null;
    throw e;
  });
  if (!res) return;
  const cd = (await res.json()) as Body<typeof S.CloudesireSubscription>;
  say("");
  fields([
    ["cloudesire", cd.lastRead ? `${cd.lastRead.deploymentStatus} (paid: ${String(cd.lastRead.paid)}), read ${cd.lastRead.at}: ${cd.lastRead.verdict}` : "not read yet"],
    ["read error", cd.lastError],
  ]);
  say("");
  table(cd.outbox.map((r) => ({ call: r.id, kind: r.kind, state: r.state, attempts: r.attempts, sent: r.sentAt ?? "", error: r.lastError ?? "" })));
}

async function cloudesireCommand(api: () => ServiceClient, sub: string | undefined, rest: string[], a: Args): Promise<void> {
  const [arg, action] = rest;
  switch (sub) {
    case "doctor": {
      const { cloudesireDoctor } = await import("./marketplaces/cloudesire/doctor.js");
      const config = loadCloudesireConfig();
      const findings = await cloudesireDoctor(config, undefined, config.limits);
      if (a.json) print(findings);
      else for (const f of findings) say(`${f.status.toUpperCase().padEnd(4)}  ${f.check}: ${f.message}`);
      if (findings.some((f) => f.status === "fail")) process.exitCode = 1;
      return;
    }
    case "sync": {
      const body = await api().json<Body<typeof S.CloudesireSyncAccepted>>("POST", `/v1/cloudesire/subscriptions/${idArg(arg)}/sync`);
      return a.json ? print(body) : say(`read of Cloudesire subscription ${body.subscription} queued (tenantctl show ${body.subscription})`);
    }
    case "resolve": {
      if (!arg || !/^[1-9][0-9]*$/.test(arg) || (action !== "sent" && action !== "resend")) throw new UsageError("cloudesire resolve <call> sent|resend");
      const body = await api().json<Body<typeof S.OutboxCallView>>("POST", `/v1/cloudesire/outbox/${arg}/resolve`, { action });
      return a.json ? print(body) : say(`call ${arg} (${body.kind}) is now ${body.state}`);
    }
    default:
      throw new UsageError(`unknown cloudesire command '${sub}': cloudesire doctor | cloudesire sync <id> | cloudesire resolve <call> sent|resend`);
  }
}

async function serveCommand(): Promise<void> {
  // Loaded here only: the service's modules (database, queue, HTTP server) are what a client command must not wait for.
  const { startService } = await import("./server.js");
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
  const [{ SubscriptionSnapshot }, { stackNameOf }, { tenantSpecOf }] = await Promise.all([
    import("./domain/event.js"), import("./domain/subscription-id.js"), import("./domain/tenant-spec.js"),
  ]);
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
  // Loaded here only: the program pulls in all of @pulumi/pulumi and @pulumi/openstack (~80 MiB resident),
  // which `tenantctl serve` must not carry (its engine host loads the SDK: provisioning/engine-host.ts).
  const { renderTenant } = await import("./program/render.js");
  const resources = await renderTenant(spec);
  print({ stack: stackNameOf(sub.id), resources });
}

// `tenantctl show 42 | head`: a reader that goes away early is not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv.slice(2)).catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`tenantctl: ${printable(message.split("\n")[0] ?? "")}\n`);
  if (e instanceof UsageError || e instanceof ConfigError) process.exit(2);
  if (e instanceof ServiceError) process.exit(e.exitCode);
  process.exit(1);
});

/** Where a run's delivery stands, in one line: a dead one says how to send it again. */
function deliveryLine(run: number, d: Body<typeof S.Delivery>): string {
  if (d.status === "delivered") return `delivered (${d.attempts} attempts)`;
  if (d.status === "waiting") return `waiting, next attempt at ${d.nextAt ?? "soon"} (${d.attempts} so far; last: ${d.error ?? "none"})`;
  return `failed for good after ${d.attempts} attempts: ${d.error ?? "unknown"} (send it again: POST /v1/billing-runs/${run}/deliver)`;
}
