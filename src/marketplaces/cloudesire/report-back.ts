import type { OutboxCall, Reported, ReportedStatus } from "../../domain/cloudesire-report.js";
import type { Invoice, RerateDocuments } from "../../domain/billing.js";
import { entitlement, type PlanLimits } from "../../domain/plan.js";
import { stackNameOf } from "../../domain/subscription-id.js";
import type { DesiredState } from "../../domain/subscription.js";
import { renderCredentials } from "../../provisioning/credentials.js";
import type { StackOutputs } from "../../domain/lifecycle.js";
import { Decimal } from "../../metering/money.js";
import { periodOf } from "../../metering/period.js";
import type { Credential, Endpoint, InvoiceLine } from "./contract.js";
import { createHash } from "node:crypto";
import { accessText, changeRefusedText, CREDENTIAL_TEXT, customerReasonOf, forMarketplace, LANGUAGES, notCreatedText, type Localized } from "./customer-text.js";

export interface ReportSettings {
  /** The cloud's dashboard (HTTPS), the customer's `APP` endpoint; none: the tenant's identity URL if HTTPS. */
  dashboardUrl: string | undefined;
  limits: PlanLimits;
  /** Whether a PASSWORD_RESET endpoint is posted (CLOUDESIRE_SERVICE_URL set). */
  passwordReset?: boolean;
  /** Where the PASSWORD_RESET link points (CLOUDESIRE_SERVICE_URL): a new one is posted when it changes. */
  serviceUrl?: string | undefined;
  /** The customers' guide (HTTPS), posted as a `DOCUMENTATION` endpoint beside the `APP` one; none: not posted. */
  documentationUrl?: string | undefined;
  /** `metrics`: Cloudesire bills PAYG usage from our metric endpoints, so no invoice is pushed. */
  paygMode?: "invoice" | "metrics";
  /** The marketplace's languages (CLOUDESIRE_LANGUAGES): instructions and credentials' descriptions in each. */
  languages?: readonly string[];
}

/** What the customer's access on Cloudesire is built from: the subscription as the store keeps it. */
export interface AccessSubject {
  id: string;
  phase: string;
  desired: DesiredState;
  outputs: { projectId: string; domainId: string; authUrl: string; userName: string } | null;
  /** The customer token's generation: the PASSWORD_RESET link's key changes with it (domain/password-reset.ts). */
  tokenGeneration?: number;
}

/** A stack operation's outcome, as the store records it. */
export interface OperationOutcome {
  result: "succeeded" | "failed";
  subscription: AccessSubject;
  reason?: string;
  /** The operation gave the tenant's user a new password: Cloudesire must show the new one. */
  passwordRotated?: boolean;
}

/**
 * What to tell Cloudesire after an operation (docs/syndication.md): after the first provisioning, the
 * access (endpoints, instructions, credentials), then DEPLOYED, then (optional) our project id in the metadata;
 * after a teardown, UNDEPLOYED; a failure before anything was deployed is FAILED with instructions saying
 * what happens next; a refused change to a running tenant only changes the instructions (the tenant keeps
 * running as it was). Pure: returns the calls to queue and what will then have been reported.
 */
export function reportFor(outcome: OperationOutcome, reported: Reported, settings: ReportSettings): { calls: OutboxCall[]; reported: Reported } {
  const { subscription: sub } = outcome;
  const calls: OutboxCall[] = [];
  const next: Reported = { ...reported };
  if (sub.phase === "pending" || sub.phase === "applying") return { calls, reported }; // a newer state is on its way
  if (outcome.result === "succeeded") {
    if (sub.phase === "cancelled") {
      if (reported.status !== "UNDEPLOYED") {
        // The usage not yet invoiced goes first: Cloudesire takes custom invoices for active
        // subscriptions only (docs/billing.md), so never after UNDEPLOYED. A trial's hours are never billed.
        const plan = sub.desired.plan;
        if (plan.model === "payg" && !plan.trial && settings.paygMode !== "metrics") calls.push({ kind: "closing-invoice", until: sub.desired.statusClock?.at ?? sub.desired.planClock.at });
        calls.push({ kind: "status", deploymentStatus: "UNDEPLOYED" });
        next.status = "UNDEPLOYED";
      }
      return { calls, reported: next };
    }
    if (sub.phase !== "ready" || sub.desired.status !== "active" || !sub.outputs) return { calls, reported };
    const firstAccess = !reported.access;
    const access = accessCalls(sub, sub.outputs, settings);
    if (firstAccess) {
      // Cloudesire takes the endpoints as a set with an APP one among them (docs/syndication.md).
      if (access.endpoints) calls.push(access.endpoints);
      calls.push(access.instructions, { kind: "credentials" });
    } else {
      // Whatever changed them (a plan change in the instructions' quotas, a refused change now applied, a
      // new dashboard URL, a re-issued token in the reset link) is posted again; nothing else is.
      if (access.endpoints && reported.endpoints !== access.endpointsKey) calls.push(access.endpoints);
      if (reported.failure || reported.instructions !== access.instructionsKey) calls.push(access.instructions);
      // Built from the engine when sent, so the customer's credentials on Cloudesire show the new password.
      // With the next password-reset link too: a reset through a link ends it (domain/password-reset.ts).
      if (outcome.passwordRotated) {
        if (access.endpoints && settings.passwordReset && !calls.includes(access.endpoints)) calls.push(access.endpoints);
        calls.push({ kind: "credentials" });
      }
    }
    Object.assign(next, { access: true, failure: null, endpoints: access.endpointsKey, instructions: access.instructionsKey });
    if (reported.status !== "DEPLOYED") {
      calls.push({ kind: "status", deploymentStatus: "DEPLOYED" });
      next.status = "DEPLOYED";
    }
    // Optional, after the status: the dashboard's name for it, and our project id in the metadata (an API not
    // in the vendor docs: api/SubscriptionApi only, so a vendor may be refused it); never holding back DEPLOYED.
    if (firstAccess) {
      calls.push({ kind: "name", name: `OpenStack project ${stackNameOf(sub.id)}` });
      calls.push({ kind: "metadata", values: { openstackProjectId: sub.outputs.projectId, openstackStack: stackNameOf(sub.id) } });
    }
    return { calls, reported: next };
  }
  // A permanent failure (the subscription is now `failed`).
  const told = customerReasonOf(outcome.reason ?? "unknown error");
  if (sub.desired.status === "cancelled" || reported.failure === told.en) return { calls, reported };
  return failureReport(told, reported, sub.desired, sub.outputs, settings);
}

/**
 * The access of a ready tenant as Cloudesire shows it: the endpoints call (none without an HTTPS APP
 * endpoint) and the instructions call, each with a key of what it says (the password-reset link by the
 * token generation its key is derived from, never the key itself), so a change of either is seen.
 */
export function accessCalls(sub: AccessSubject, outputs: NonNullable<AccessSubject["outputs"]>, settings: ReportSettings): { endpoints: OutboxCall | null; endpointsKey: string | null; instructions: OutboxCall; instructionsKey: string } {
  const app = appEndpointOf(settings, outputs);
  const docs: Endpoint[] = settings.documentationUrl ? [{ endpoint: settings.documentationUrl, description: "How to use your OpenStack project", category: "DOCUMENTATION" }] : [];
  const endpoints: OutboxCall | null = app ? { kind: "endpoints", endpoints: [app, ...docs], ...(settings.passwordReset ? { passwordReset: true } : {}) } : null;
  const instructions: OutboxCall = { kind: "instructions", instructions: forMarketplace(accessInstructions(sub.desired, outputs, settings), languagesOf(settings)) };
  return {
    endpoints,
    endpointsKey: endpoints ? digest({ endpoints, reset: settings.passwordReset ? [settings.serviceUrl ?? null, sub.tokenGeneration ?? 0] : null }) : null,
    instructions,
    instructionsKey: digest(instructions),
  };
}

function digest(v: unknown): string {
  return createHash("sha256").update(JSON.stringify(v)).digest("base64url").slice(0, 22);
}

function languagesOf(settings: ReportSettings): readonly string[] {
  return settings.languages ?? LANGUAGES;
}

/** A subscription we refuse (its quantities, or a failed provisioning): what the customer is told. */
export function failureReport(reason: Localized, reported: Reported, desired: DesiredState | null, outputs: OperationOutcome["subscription"]["outputs"], settings: ReportSettings): { calls: OutboxCall[]; reported: Reported } {
  // Kept in English: what was said is compared with the next reason, whatever the language.
  const next: Reported = { ...reported, failure: reason.en, instructions: null };
  const languages = languagesOf(settings);
  if (reported.access && desired && outputs) {
    return { calls: [{ kind: "instructions", instructions: forMarketplace(changeRefusedText(reason, accessInstructions(desired, outputs, settings)), languages) }], reported: next };
  }
  const calls: OutboxCall[] = [{ kind: "instructions", instructions: forMarketplace(notCreatedText(reason), languages) }];
  if (reported.status !== "FAILED") {
    calls.push({ kind: "status", deploymentStatus: "FAILED" });
    next.status = "FAILED";
  }
  return { calls, reported: next };
}

/**
 * The `APP` endpoint, required by docs/syndication.md and HTTPS only: the cloud's dashboard, or without
 * one (CLOUDESIRE_DASHBOARD_URL unset) the tenant's identity URL, where its credentials are used. A
 * plain-HTTP identity URL would be refused by Cloudesire: none is posted then (healthz and doctor say so).
 */
export function appEndpointOf(settings: ReportSettings, outputs: { authUrl: string }): Endpoint | null {
  if (settings.dashboardUrl) return { endpoint: settings.dashboardUrl, description: "OpenStack dashboard", category: "APP" };
  return outputs.authUrl.startsWith("https://") ? { endpoint: outputs.authUrl, description: "OpenStack identity (Keystone): log in with your credentials", category: "APP" } : null;
}

/** How to log in, in plain text, without a secret (the password is in the credentials). */
export function accessInstructions(desired: DesiredState, outputs: NonNullable<OperationOutcome["subscription"]["outputs"]>, settings: ReportSettings): Localized {
  return accessText({
    stack: stackNameOf(desired.id), domainId: outputs.domainId, hasApp: appEndpointOf(settings, outputs) !== null,
    payg: desired.plan.model === "payg", q: entitlement(desired.plan, settings.limits),
  });
}

/** The credentials posted to Cloudesire, from the engine's outputs (the password included). */
export function credentialsOf(stack: string, outputs: StackOutputs, languages: readonly string[] = LANGUAGES): Credential[] {
  const d = Object.fromEntries(Object.entries(CREDENTIAL_TEXT).map(([k, t]) => [k, forMarketplace(t, languages)])) as Record<keyof typeof CREDENTIAL_TEXT, Record<string, string>>;
  return [
    { key: "username", value: outputs.userName, description: d.username, weight: 1 },
    { key: "password", value: outputs.password, description: d.password, weight: 2 },
    { key: "project", value: `${stack} (${outputs.projectId})`, description: d.project, weight: 3 },
    { key: "authUrl", value: outputs.authUrl, description: d.authUrl, weight: 4 },
    { key: "region", value: outputs.region, description: d.region, weight: 5 },
    { key: "CredentialsFile", value: renderCredentials(stack, outputs, "clouds.yaml").body, description: d.CredentialsFile, weight: 6 },
  ];
}

/**
 * Our invoice as Cloudesire invoice lines (docs/billing.md): one line per resource with something to pay,
 * quantity 1 at the line's rounded amount, so that Cloudesire's total is exactly ours (its own
 * quantity × price would round differently); the usage is in the description. Decimal strings only.
 */
export function invoiceLinesOf(period: string, inv: Invoice, purchasedMs = periodOf(period).stopMs - 1): InvoiceLine[] {
  // VendorOrderLineDTO.purchased dates the cost (default: when pushed): the end of the usage it bills.
  const purchased = new Date(purchasedMs).toISOString();
  return inv.lines
    .filter((l) => new Decimal(l.amount).gt(0))
    .map((l) => ({
      description: `${l.resource} ${period}: ${l.quantity} ${l.unit}s (${l.freeUnitHours} free) at ${l.unitPrice} ${inv.currency} each`,
      identifier: `${l.resource}-${period}`,
      price: { price: l.amount, currency: inv.currency },
      quantity: "1",
      unit: "period",
      purchased,
    }));
}

/** What the report-back keeps in the store (store/cloudesire-store.ts implements it); `Tx` is the store's transaction. */
export interface ReportLedger<Tx> {
  /**
   * Locks what was reported of subscription `id` and hands it to `decide`: the calls it returns are queued
   * and its `reported` kept, in `tx` (or a transaction of its own). A subscription not sold through
   * Cloudesire has no record: `decide` is not called.
   */
  report(id: string, decide: (reported: Reported) => { calls: OutboxCall[]; reported: Reported } | null, tx?: Tx): Promise<void>;
  /**
   * Queues `call` in `lane` once per (subscription, `dedupeKey`), if the subscription is Cloudesire's and
   * no closing invoice was queued for it (its cancellation invoices what is left).
   */
  queueOnce(tx: Tx, id: string, lane: "invoice", call: OutboxCall, dedupeKey: string): Promise<void>;
}

/**
 * The report-back to Cloudesire: what to say after an operation, a refusal, a termination or a billing
 * run, queued in the outbox in the same transaction as the state it reports (the store hands its
 * transaction to the hooks).
 */
export class ReportBack<Tx> {
  constructor(
    private readonly ledger: ReportLedger<Tx>,
    private readonly settings: ReportSettings,
  ) {}

  /** The outcome hook of stack operations (SubscriptionStore calls it inside the transaction that records the outcome). */
  readonly onOperationOutcome = (tx: Tx, outcome: OperationOutcome): Promise<void> =>
    this.ledger.report(outcome.subscription.id, (reported) => {
      const next = reportFor(outcome, reported, this.settings);
      return next.calls.length === 0 ? null : next;
    }, tx);

  /**
   * The billing hook (BillingStore calls it inside the transaction that saves a run): each Cloudesire
   * subscription's invoice of the period is queued once — the key (subscription, period) keeps a re-run
   * or a retry from queueing it twice.
   */
  readonly onBillingRunSaved = async (tx: Tx, period: string, invoices: readonly Invoice[]): Promise<void> => {
    if (this.settings.paygMode === "metrics") return; // Cloudesire bills from our metrics: pushing too would bill twice
    // A subscription cancelled before the run had its usage pushed with its closing invoice, before UNDEPLOYED.
    for (const inv of invoices) {
      const lines = invoiceLinesOf(period, inv);
      if (lines.length > 0) await this.ledger.queueOnce(tx, inv.subscriptionId, "invoice", { kind: "invoice", period, lines }, `invoice:${period}`);
    }
  };

  /**
   * The re-rating hook (BillingStore calls it inside the transaction that saves a re-rating): for each
   * Cloudesire subscription, the credit of an invoice that was pushed (it had lines to pay), then the new
   * version, each queued once (keys `credit:<period>:v<n>`, `invoice:<period>:v<n>`) in the invoice lane.
   */
  readonly onRerateSaved = async (tx: Tx, period: string, docs: Pick<RerateDocuments, "credits" | "invoices">): Promise<void> => {
    if (this.settings.paygMode === "metrics") return;
    for (const c of docs.credits) {
      if (invoiceLinesOf(period, c).length === 0) continue; // nothing was pushed: nothing to credit
      await this.ledger.queueOnce(tx, c.subscriptionId, "invoice", { kind: "credit-note", period, cancelsVersion: c.cancelsVersion, total: c.total, currency: c.currency }, `credit:${period}:v${c.cancelsVersion}`);
    }
    for (const inv of docs.invoices) {
      const lines = invoiceLinesOf(period, inv);
      if (lines.length > 0) await this.ledger.queueOnce(tx, inv.subscriptionId, "invoice", { kind: "invoice", period, lines }, `invoice:${period}:v${inv.version}`);
    }
  };

  /**
   * A subscription we refuse (quantities over the limits, a missing billing item): the customer is told
   * why, once per reason, in the same transaction as the record of having said it.
   */
  reportRefusal(id: string, reason: Localized, current: { desired: DesiredState | null; outputs: OperationOutcome["subscription"]["outputs"] }): Promise<void> {
    return this.ledger.report(id, (reported) => (reported.failure === reason.en ? null : failureReport(reason, reported, current.desired, current.outputs, this.settings)));
  }

  /**
   * Cloudesire shows something else than what we said last (PENDING for a ready tenant, PENDING for an
   * order we refused, UNDEPLOY_SENT after our UNDEPLOYED): what it shows wins over our memory of having
   * said it (a PATCH lost on its side, an operator's reset), so it is said again.
   */
  sayAgain(id: string, status: ReportedStatus): Promise<void> {
    return this.ledger.report(id, (reported) => ({ calls: [{ kind: "status", deploymentStatus: status }], reported: { ...reported, status } }));
  }

  /**
   * The access Cloudesire shows for a ready tenant, brought up to date without an operation: after the
   * customer's token is re-issued (the reset link's key changed; SubscriptionStore calls it in the same
   * transaction) and, at start, for every subscription (a changed dashboard, documentation or service URL,
   * other languages). Only what differs from what was posted is queued; a refusal still shown is left alone.
   */
  refreshAccess(sub: AccessSubject, tx?: Tx): Promise<void> {
    return this.ledger.report(sub.id, (reported) => {
      if (!reported.access || reported.failure || sub.phase !== "ready" || sub.desired.status !== "active" || !sub.outputs) return null;
      const access = accessCalls(sub, sub.outputs, this.settings);
      const calls: OutboxCall[] = [];
      if (access.endpoints && reported.endpoints !== access.endpointsKey) calls.push(access.endpoints);
      if (reported.instructions !== access.instructionsKey) calls.push(access.instructions);
      return calls.length === 0 ? null : { calls, reported: { ...reported, endpoints: access.endpointsKey, instructions: access.instructionsKey } };
    }, tx);
  }

  /** The languages the customer's texts are posted in. */
  get languages(): readonly string[] {
    return languagesOf(this.settings);
  }

  /** A termination of a subscription that never had a tenant: confirmed at once. */
  reportUndeployed(id: string): Promise<void> {
    return this.ledger.report(id, (reported) =>
      reported.status === "UNDEPLOYED" ? null : { calls: [{ kind: "status", deploymentStatus: "UNDEPLOYED" }], reported: { ...reported, status: "UNDEPLOYED" } });
  }
}
