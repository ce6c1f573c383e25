import { DriftState } from "../domain/drift.js";
import { Phase } from "../domain/lifecycle.js";
import { SubscriptionStatus } from "../domain/subscription.js";
import { type CommandSpec, usageLine, wholeNumber } from "./args.js";
import { ROLLOUT_COMMANDS } from "./rollout.js";
import { OPERATOR_COMMANDS } from "./operators.js";

const PAGE: NonNullable<CommandSpec["options"]> = {
  limit: { value: "N", check: wholeNumber(1), help: "one page of at most N items (the service gives at most 1000), and the --cursor of the next on stderr" },
  cursor: { value: "C", help: "the page after this cursor (printed after the previous page)" },
};
const WATCH = { watch: { help: "follow the operation it starts to its end (exit 1 if it fails)" } };
const ID = { args: "<id>", positionals: { min: 1, max: 1 } };

/** Every command and its options: parsing, usage and per-command help come from here (cli/args.ts). */
export const COMMANDS: CommandSpec[] = [
  { name: "serve", summary: "run the service (HTTP API + reconcile workers)" },
  {
    name: "list", summary: "subscriptions and their state, as a table (every page; with --limit one page, and the --cursor of the next one on stderr)",
    options: {
      phase: { value: "P", values: Phase.options, help: "only subscriptions in this phase" },
      status: { value: "S", values: SubscriptionStatus.options, help: "only subscriptions with this status" },
      plan: { value: "M", values: ["payg", "prepaid"], help: "only subscriptions with this plan model" },
      target: { value: "T", help: "only subscriptions in this target (tenantctl targets lists them)" },
      ...PAGE,
    },
  },
  { name: "targets", summary: "the targets (clouds and regions) tenants are sold in, and whether each answers" },
  { name: "capacity", summary: "per target and resource class: sold, sellable, physical (Placement) and used, and what is left to sell" },
  { name: "show", ...ID, summary: "one subscription: status, phase, plan, outputs, last operations, drift" },
  { name: "preview", ...ID, summary: "what an update of the subscription's stack would change (Pulumi's diff)" },
  { name: "history", ...ID, summary: "the stack's update history (the audit log), with the event of each update" },
  { name: "retry", ...ID, summary: "apply a subscription's desired state again (after a failure)", options: WATCH },
  { name: "rotate-password", ...ID, summary: "a new Keystone password for the customer (a stack update; credentials follow)", options: WATCH },
  { name: "watch", ...ID, summary: "follow an operation live (default: the latest): progress on a terminal", options: { op: { value: "N", check: wholeNumber(1), help: "the operation's number (tenantctl show lists them)" } } },
  { name: "drift", summary: "the last drift check of every stack (pages as for list)", options: { state: { value: "S", values: DriftState.options, help: "only stacks in this state" }, ...PAGE } },
  { name: "drift check", args: "[<id>]", positionals: { min: 0, max: 1 }, summary: "check every ready stack (or one) for drift now" },
  { name: "drift repair", ...ID, summary: "put the declared state back (a stack update named as a drift repair)", options: WATCH },
  { name: "drift accept", ...ID, summary: "accept exactly the differences found (not reported again unless they change)" },
  {
    name: "dead-letters", summary: "reconcile jobs that failed for good and Cloudesire's calls waiting for an operator (with --limit/--cursor: one page of the jobs, or with --cloudesire of the calls)",
    options: { cloudesire: { help: "with --limit/--cursor: the page of Cloudesire's calls" }, ...PAGE },
  },
  ...ROLLOUT_COMMANDS,
  ...OPERATOR_COMMANDS(PAGE),
  { name: "render", args: "<subscription.json|->", positionals: { min: 1, max: 1 }, summary: "what the program declares for a subscription (offline, no credentials)" },
  {
    name: "bill", summary: "run the billing of a closed month (once; again returns the same run), or re-rate a billed one",
    options: {
      period: { value: "YYYY-MM", check: (v) => (/^\d{4}-(0[1-9]|1[0-2])$/.test(v) ? null : "a month as YYYY-MM is expected"), help: "the month to bill (required)" },
      rerate: { help: "measure and rate a billed month again: a credit note and a new invoice version for each charge that changed, nothing for the others" },
    },
  },
  { name: "invoices", args: "<run-id>", positionals: { min: 1, max: 1 }, summary: "the invoices (with their versions) and credit notes of a billing run", options: { csv: { help: "as CSV, as the service exports it" } } },
  { name: "doctor", summary: "ask the running service to check its configuration: admin credentials, member role, catalog, pulumi CLI, Cloudesire" },
  { name: "cloudesire doctor", summary: "check Cloudesire selling from this shell's environment: notification secret, API reachable, token accepted" },
  { name: "cloudesire sync", ...ID, summary: "read a Cloudesire subscription again now, and converge on it" },
  { name: "cloudesire resolve", args: "<call> sent|resend", positionals: { min: 2, max: 2 }, summary: "decide a dead or held call back to Cloudesire (see 'show', 'dead-letters')" },
  { name: "pulumi-env", summary: "shell exports to run 'pulumi preview --stack sub-<id>' by hand" },
  { name: "config-reference", summary: "every environment variable, its default and meaning (Markdown table)" },
];

export const USAGE = [
  "usage: tenantctl <command> [args] [--json]      (tenantctl <command> --help: its options and values)",
  ...COMMANDS.map((c) => {
    const line = `  ${usageLine(c)}`;
    return line.length <= 33 ? `${line.padEnd(34)} ${c.summary}` : `${line}\n${" ".repeat(35)}${c.summary}`;
  }),
  "",
  "  --json   machine-readable output on stdout, for every command (render always prints JSON)",
  "exit codes: 0 done; 1 the service, the cloud or the watched operation failed; 2 bad usage or input",
  "            (or the service refused it with a 4xx); 3 the service cannot be reached",
].join("\n");
