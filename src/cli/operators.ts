import { z } from "zod";
import type * as O from "../api/operator-schemas.js";
import { OperatorName, Role } from "../domain/operator.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import { csvCell } from "../metering/billing-run.js";
import type { CommandSpec } from "./args.js";
import { type ServiceClient, UsageError } from "./client.js";
import { fields, print, printable, say, table } from "./format.js";
import { nextPageHint, onePage, type PageRequest, readList } from "./pages.js";

type Body<T extends z.ZodType> = z.output<T>;

/** What `tenantctl operator` and `tenantctl audit` need of the parsed command line. */
export interface OperatorArgs {
  json: boolean;
  flag(name: string): string | undefined;
  has(name: string): boolean;
}

const NAME = { args: "<name>", positionals: { min: 1, max: 1 } };
const Instant = z.iso.datetime({ offset: true });

/** `operator` and `audit`, as tenantctl's command line declares them (cli/args.ts). */
export const OPERATOR_COMMANDS = (page: CommandSpec["options"]): CommandSpec[] => [
  {
    name: "operator add", ...NAME, summary: "add a named operator with a role; prints its token once (only its hash is kept)",
    options: { role: { value: "R", values: Role.options, help: "viewer reads; operator also retries, repairs, rotates, previews, rolls out; admin also bills, resends dead letters, manages operators (required)" } },
  },
  { name: "operator list", summary: "the operators: root (OPERATOR_TOKEN) and the named ones, with their roles; revoked ones too" },
  { name: "operator revoke", ...NAME, summary: "revoke an operator: its token and console sessions stop working now" },
  {
    name: "audit", summary: "the audit trail: operators' actions (who, what, which subscription, result) and marketplace events, newest first",
    options: {
      since: { value: "ISO", check: (v) => (Instant.safeParse(v).success ? null : "an instant as ISO 8601 with a zone is expected, e.g. 2026-12-01T00:00:00Z"), help: "only items at or after this instant" },
      subscription: { value: "ID", check: (v) => (SubscriptionId.safeParse(v).success ? null : "not a subscription id"), help: "only items about this subscription" },
      csv: { help: "as CSV with a header (at, actor, action, subscription, result)" },
      ...page,
    },
  },
];

const nameArg = (name: string | undefined): string => {
  const parsed = OperatorName.safeParse(name);
  if (!parsed.success) throw new UsageError(`an operator name is required: ${parsed.error.issues[0]?.message ?? "not valid"}`);
  return parsed.data;
};

export async function operatorCommand(client: ServiceClient, sub: string, name: string | undefined, a: OperatorArgs): Promise<void> {
  switch (sub) {
    case "add": {
      const role = a.flag("role");
      if (!role) throw new UsageError("operator add needs --role viewer|operator|admin");
      const body = await client.json<Body<typeof O.OperatorCreated>>("POST", "/v1/operators", { name: nameArg(name), role });
      if (a.json) return print(body);
      say(`operator ${body.name} added as ${body.role}. Its token, shown this once (give it to ${body.name}, keep it secret):`);
      return say(body.token);
    }
    case "list": {
      const body = await client.json<Body<typeof O.OperatorList>>("GET", "/v1/operators");
      if (a.json) return print(body);
      return table(body.operators.map((o) => ({ name: o.name, role: o.role, created: o.createdAt ?? "(OPERATOR_TOKEN)", revoked: o.revokedAt ?? "" })));
    }
    case "revoke": {
      const body = await client.json<Body<typeof O.Operator>>("DELETE", `/v1/operators/${encodeURIComponent(nameArg(name))}`);
      if (a.json) return print(body);
      return fields([["operator", body.name], ["role", body.role], ["revoked", body.revokedAt]]);
    }
    default:
      throw new UsageError("operator needs add, list or revoke");
  }
}

/** The trail as CSV: a header, then one quoted-as-needed row per item, spreadsheet formulas neutralised. */
export function auditCsv(items: ReadonlyArray<Body<typeof O.AuditItem>>): string {
  const rows = [["at", "actor", "action", "subscription", "result"], ...items.map((i) => [i.at, i.actor, i.action, i.subscriptionId ?? "", i.result])];
  // Control characters are escaped first (a result may quote a marketplace's text), then cells are quoted.
  return `${rows.map((r) => r.map((v) => csvCell(printable(v))).join(",")).join("\n")}\n`;
}

export async function auditCommand(client: ServiceClient, a: OperatorArgs, page: PageRequest, again: string): Promise<void> {
  const q = new URLSearchParams();
  for (const name of ["since", "subscription"]) {
    const v = a.flag(name);
    if (v) q.set(name, v);
  }
  const body = await readList(client, "/v1/audit", q, (b: Body<typeof O.AuditPage>) => b.items, page);
  if (a.json) return print({ items: body.items, ...(onePage(page) ? { nextCursor: body.nextCursor } : {}) });
  if (a.has("csv")) process.stdout.write(auditCsv(body.items));
  else table(body.items.map((i) => ({ at: i.at, actor: i.actor, action: i.action, subscription: i.subscriptionId ?? "", result: i.result })));
  if (onePage(page)) nextPageHint(again, body.nextCursor);
}
