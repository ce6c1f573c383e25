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
import { ConfigError, configReference, configReferenceMarkdown, loadCliConfig, loadCloudesireConfig, loadConfig, loadDoctorConfig, loadTenantSettings } from "./config.js";
import { cloudesireDoctor } from "./marketplaces/cloudesire/doctor.js";
import { doctor } from "./openstack/doctor.js";
import { SubscriptionSnapshot } from "./domain/event.js";
import { stackNameOf } from "./domain/subscription-id.js";
import { tenantSpecOf } from "./domain/tenant-spec.js";
import { startService } from "./server.js";
import { ServiceClient, ServiceError, UsageError } from "./cli/client.js";
import { fields, print, printable, say, table } from "./cli/format.js";
import { nextPageHint, onePage, pageRequestOf, readList, type PageRequest } from "./cli/pages.js";
import { watchOperation } from "./cli/watch.js";
import { ROLLOUT_USAGE, ROLLOUT_VALUED_FLAGS, rolloutCommand } from "./cli/rollout.js";

const USAGE = `usage: tenantctl <command> [args] [--json]
  serve                          run the service (HTTP API + reconcile workers)
  list [--phase P] [--status S] [--plan payg|prepaid] [--limit N] [--cursor C]
                                 subscriptions and their state, as a table (every page; with --limit
                                 one page, and the --cursor of the next one on stderr)
  show <id>                      one subscription: status, phase, plan, outputs, last operations, drift
  preview <id>                   what an update of the subscription's stack would change (Pulumi's diff)
  history <id>                   the stack's update history (the audit log), with the event of each update
  retry <id> [--watch]           apply a subscription's desired state again (after a failure)
  rotate-password <id> [--watch] a new Keystone password for the customer (a stack update; credentials follow)
  watch <id> [--op N]            follow an operation live (default: the latest): progress on a terminal
  drift [--state S] [--limit N] [--cursor C]
                                 the last drift check of every stack (pages as for list)
  drift check [<id>]             check every ready stack (or one) for drift now
  drift repair <id> [--watch]    put the declared state back (a stack update named as a drift repair)
  drift accept <id>              accept exactly the differences found (not reported again unless they change)
  dead-letters [--cloudesire] [--limit N] [--cursor C]
                                 reconcile jobs that failed for good (retries exhausted or permanent) and
                                 Cloudesire's calls waiting for an operator; with --limit/--cursor one
                                 page of the jobs (or, with --cloudesire, of the calls)
${ROLLOUT_USAGE}
  render <subscription.json|->   what the program declares for a subscription (offline, no credentials)
  bill --period YYYY-MM          run the billing of a closed month (once; again returns the same run)
  invoices <run-id> [--csv]      the invoices of a billing run
  doctor                         check the OpenStack admin credentials, member role and catalog
  cloudesire doctor              check Cloudesire selling: notification secret, API reachable, token accepted
  cloudesire sync <id>           read a Cloudesire subscription again now, and converge on it
  cloudesire resolve <call> sent|resend
                                 decide a dead or held call back to Cloudesire (see 'show', 'dead-letters')
  pulumi-env                     shell exports to run 'pulumi preview --stack sub-<id>' by hand
  config-reference               every environment variable, its default and meaning (Markdown table)

  --json   machine-readable output on stdout, for every command (render always prints JSON)
exit codes: 0 done; 1 the service, the cloud or the watched operation failed; 2 bad usage or input
            (or the service refused it with a 4xx); 3 the service cannot be reached`;

type Args = { positional: string[]; flags: Map<string, string | true>; json: boolean; argv: string[] };

/** `--name value` and bare `--flag`; the first word is the command. */
function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const valued = new Set(["--phase", "--status", "--plan", "--op", "--state", "--period", "--limit", "--cursor", ...ROLLOUT_VALUED_FLAGS]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (valued.has(a)) {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${a} needs a value`);
      flags.set(a, v);
    } else if (a.startsWith("--")) flags.set(a, true);
    else positional.push(a);
  }
  return { positional, flags, json: flags.has("--json"), argv };
}

/** `--limit N` / `--cursor C`: one page of a list instead of all of it. */
const pageOf = (a: Args) => pageRequestOf(flag(a, "--limit"), flag(a, "--cursor"));

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
  const again = a.argv.filter((w, i) => w !== "--cursor" && a.argv[i - 1] !== "--cursor");
  nextPageHint(again.join(" "), body.nextCursor);
}

const flag = (a: Args, name: string): string | undefined => {
  const v = a.flags.get(name);
  return typeof v === "string" ? v : undefined;
};

function idArg(id: string | undefined): string {
  if (!id) throw new UsageError("a subscription id is required");
  return encodeURIComponent(id);
}

/** A response body as the API's own schema declares it (api/schemas.ts): a change there is a type error here. */
type Body<T extends z.ZodType> = z.output<T>;

async function main(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const [command, ...rest] = a.positional;
  const api = () => new ServiceClient();
  switch (command) {
    case "serve":
      return serveCommand();
    case "render":
      return renderCommand(rest[0]);
    case "list": {
      const q = new URLSearchParams();
      for (const name of ["phase", "status"]) {
        const v = flag(a, `--${name}`);
        if (v) q.set(name, v);
      }
      const page = pageOf(a);
      const body = await readList(api(), "/v1/subscriptions", q, (b: Body<typeof S.SubscriptionList>) => b.subscriptions, page);
      // The plan is not a filter of the API: a page shown with --plan may hold fewer than --limit rows.
      const plan = flag(a, "--plan");
      const subs = body.items.filter((s) => !plan || s.plan.model === plan);
      return showList(a, page, "subscriptions", { ...body, items: subs }, (ss) =>
        table(ss.map((s) => ({ id: s.id, stack: s.stack, status: s.status, phase: s.phase, plan: s.plan.model, error: s.lastError ?? "" }))));
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
      const before = a.flags.has("--watch") ? (await latestOperation(api(), idArg(rest[0]))).op ?? 0 : 0;
      const body = await api().json<Body<typeof S.RetryAccepted>>("POST", `/v1/subscriptions/${idArg(rest[0])}/retry`);
      if (a.flags.has("--watch")) return watchLatest(api(), body.subscription.id, undefined, a, before);
      return a.json ? print(body) : say(`retry of ${body.subscription.id} accepted (tenantctl watch ${body.subscription.id})`);
    }
    case "rotate-password": {
      const before = a.flags.has("--watch") ? (await latestOperation(api(), idArg(rest[0]))).op ?? 0 : 0;
      const body = await api().json<Body<typeof S.RetryAccepted>>("POST", `/v1/subscriptions/${idArg(rest[0])}/rotate-password`);
      if (a.flags.has("--watch")) return watchLatest(api(), body.subscription.id, undefined, a, before);
      return a.json ? print(body) : say(`new Keystone credentials for ${body.subscription.id} requested (tenantctl watch ${body.subscription.id})`);
    }
    case "watch": {
      const op = flag(a, "--op");
      if (op !== undefined && !/^[1-9][0-9]*$/.test(op)) throw new UsageError("--op needs an operation number");
      return watchLatest(api(), idArg(rest[0]), op === undefined ? undefined : Number(op), a);
    }
    case "drift":
      return driftCommand(api(), rest, a);
    case "rollout":
      return rolloutCommand(api(), rest, { json: a.json, flag: (name) => flag(a, name) });
    case "dead-letters":
      return deadLettersCommand(api(), a);
    case "cloudesire":
      return cloudesireCommand(api, rest, a);
    case "bill": {
      const period = flag(a, "--period");
      if (!period) throw new UsageError("bill needs --period YYYY-MM");
      const body = await api().json<Body<typeof S.BillingRunCreated>>("POST", "/v1/billing-runs", { period });
      if (a.json) return print(body);
      const r = body.run;
      say(`${body.created ? "billed" : "already billed"} ${r.period}: run ${r.id}, ${r.invoiceCount} invoices, total ${r.total} ${r.currency}`);
      say(`  invoices: tenantctl invoices ${r.id} [--csv]`);
      return;
    }
    case "invoices": {
      const id = idArg(rest[0]);
      if (a.flags.has("--csv")) return void process.stdout.write(printable(await api().text(`/v1/billing-runs/${id}/invoices.csv`)));
      const body = await api().json<Body<typeof S.BillingRunDetail>>("GET", `/v1/billing-runs/${id}`);
      if (a.json) return print(body);
      return table(body.invoices.map((i) => ({ subscription: i.subscriptionId, total: i.total, currency: i.currency })));
    }
    case "doctor": {
      const c = loadDoctorConfig();
      const findings = await doctor(c.credentials, c.memberRole);
      if (a.json) print(findings);
      else for (const f of findings) say(`${f.status.toUpperCase().padEnd(4)}  ${f.check}: ${f.message}`);
      if (findings.some((f) => f.status === "fail")) process.exitCode = 1;
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
      say("# then, from the repository root: pulumi preview --stack sub-<id>; pulumi stack history --stack sub-<id>");
      return;
    }
    case undefined:
    case "help":
      say(USAGE);
      return;
    default:
      throw new UsageError(`unknown command '${command}'\n${USAGE}`);
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

async function driftCommand(client: ServiceClient, rest: string[], a: Args): Promise<void> {
  const [sub, id] = rest;
  const rows = (ds: Array<Body<typeof S.Drift>>) =>
    table(ds.map((d) => ({
      subscription: d.subscriptionId, state: d.state, checked: d.checkedAt,
      differences: d.error ?? (d.differences.map((x) => `${x.resource} ${x.change}${x.properties.length ? ` (${x.properties.join(", ")})` : ""}`).join("; ") || "-"),
    })));
  switch (sub) {
    case undefined: {
      const state = flag(a, "--state");
      const page = pageOf(a);
      const body = await readList(client, "/v1/drift", new URLSearchParams(state ? { state } : {}), (b: Body<typeof S.DriftPage>) => b.drift, page);
      return showList(a, page, "drift", body, rows);
    }
    case "check": {
      const body = await client.json<Body<typeof S.DriftSweep>>("POST", id ? `/v1/subscriptions/${idArg(id)}/drift/check` : "/v1/drift/checks");
      return a.json ? print(body) : table(body.results.map((r) => ({ subscription: r.subscription, outcome: r.outcome, state: r.state ?? "", reason: r.reason ?? "" })));
    }
    case "repair": {
      const before = a.flags.has("--watch") ? (await latestOperation(client, idArg(id))).op ?? 0 : 0;
      const body = await client.json<Body<typeof S.DriftRepairAccepted>>("POST", `/v1/subscriptions/${idArg(id)}/drift/repair`);
      if (a.flags.has("--watch")) return watchLatest(client, body.subscription.id, undefined, a, before);
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
    return a.flags.has("--cloudesire") ? showList(a, page, "deadLetters", await calls(), callsTable) : showList(a, page, "deadLetters", await jobs(), jobsTable);
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

async function cloudesireCommand(api: () => ServiceClient, rest: string[], a: Args): Promise<void> {
  const [sub, arg, action] = rest;
  switch (sub) {
    case "doctor": {
      const findings = await cloudesireDoctor(loadCloudesireConfig());
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
