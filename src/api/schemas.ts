/**
 * The shapes the HTTP API speaks: its own schemas, not the store's rows (api/views.ts maps records to
 * them, in one place), reusing the domain's where the meaning is the same (a phase, a plan, an invoice).
 * The same objects validate requests, type the handlers, generate /openapi.json and type tenantctl
 * (cli/), so neither the spec nor the CLI can drift from the code. Examples live next to them and a test
 * validates every one.
 */
import { z } from "@hono/zod-openapi";
import { BillingInputs, CreditNote, IssuedInvoice, RerateChange, TargetTotal } from "../domain/billing.js";
import { OutboxLane, Reported } from "../domain/cloudesire-report.js";
import { DriftState } from "../domain/drift.js";
import { Customer, EventType, MarketplaceEvent } from "../domain/event.js";
import { Phase } from "../domain/lifecycle.js";
import { Plan } from "../domain/plan.js";
import { TargetName } from "../domain/target.js";
import { storable } from "../domain/storable.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import { SubscriptionStatus } from "../domain/subscription.js";
import { PeriodName } from "../metering/period.js";
import { CloudsYamlDocument, CredentialsDocument, CredentialsFormat } from "../provisioning/credentials.js";
import { HistoryEntry as EngineHistoryEntry } from "../provisioning/engine.js";
import { NextCursor, PageQuery } from "./pages.js";

export const Problem = z
  .object({ type: z.string(), title: z.string(), status: z.number().int(), detail: z.unknown().optional() })
  .openapi("Problem", { description: "RFC 9457 problem details: every error of this API" });

export const EXAMPLE_EVENT = {
  id: "evt-0001",
  type: "subscription.created",
  occurredAt: "2026-11-24T10:00:00Z",
  subscription: {
    id: "42",
    customer: { id: "c-7", name: "Example Ltd", email: "ops@example.com" },
    plan: { model: "prepaid", cores: 8, ramGb: 16, diskGb: 200, floatingIps: 2 },
  },
} as const;

/*
 * Schemas made in other modules may be created before @hono/zod-openapi extends zod (zod 4 puts methods
 * on instances): they are wrapped here in fresh schemas with the same shape before `.openapi` is called.
 */
const documented = <T extends z.ZodRawShape>(schema: { shape: T }) => z.object(schema.shape);

// Refused with the field named (422) rather than failing in the database (a 500 the marketplace retries).
export const Event = documented(MarketplaceEvent).superRefine(storable).openapi("MarketplaceEvent");

/** What the tenant is, once provisioned (no secret: the password is served by /credentials only). */
export const TenantOutputs = z
  .object({
    projectId: z.string(), userId: z.string(), userName: z.string(),
    authUrl: z.string(), region: z.string(), domainId: z.string(),
  })
  .openapi("TenantOutputs");

export const SubscriptionView = z
  .object({
    id: z.string(),
    stack: z.string(),
    status: SubscriptionStatus,
    phase: Phase,
    plan: Plan,
    customer: Customer,
    lastEvent: z.object({ id: z.string(), type: EventType, occurredAt: z.string() }),
    generation: z.number().int(),
    appliedGeneration: z.number().int(),
    lastError: z.string().nullable(),
    outputs: TenantOutputs.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Subscription");

const EXAMPLE_SUBSCRIPTION = {
  id: "42",
  stack: "sub-42",
  status: "active",
  phase: "ready",
  plan: EXAMPLE_EVENT.subscription.plan,
  customer: EXAMPLE_EVENT.subscription.customer,
  lastEvent: { id: "evt-0001", type: "subscription.created", occurredAt: "2026-11-24T10:00:00Z" },
  generation: 1,
  appliedGeneration: 1,
  lastError: null,
  outputs: {
    projectId: "0c2b6e1f5d8a4b3c9e7f6a5b4c3d2e1f", userId: "9f8e7d6c5b4a39281706f5e4d3c2b1a0", userName: "sub-42",
    authUrl: "https://keystone.example.com/v3", region: "RegionOne", domainId: "default",
  },
  createdAt: "2026-11-24T10:00:01.120Z",
  updatedAt: "2026-11-24T10:00:31.450Z",
} as const;

const CredentialsToken = z.string().openapi({
  description:
    "On the answer to the event that created the subscription and to every `subscription.created` event of it (a re-delivery gets it again): " +
    "the customer's key to its credentials, the same until an operator re-issues it",
});
export const EventAccepted = z
  .object({
    status: z.literal("accepted"),
    event: z.string(),
    subscription: SubscriptionView,
    credentialsToken: CredentialsToken.optional(),
  })
  .openapi("EventAccepted");
export const EventAcknowledged = z
  .object({
    status: z.enum(["duplicate", "stale"]),
    event: z.string(),
    original: z.enum(["applied", "stale", "rejected"]).optional(),
    reason: z.string().nullable(),
    credentialsToken: CredentialsToken.optional(),
  })
  .openapi("EventAcknowledged");

/** One stack operation (an update or a destroy) of a subscription. */
export const Operation = z
  .object({
    id: z.number().int(),
    kind: z.string(),
    eventId: z.string(),
    generation: z.number().int(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    result: z.enum(["running", "succeeded", "failed"]),
    error: z.string().nullable(),
  })
  .openapi("Operation");

/** The last drift check of a stack. */
export const Drift = z
  .object({
    subscriptionId: z.string(),
    checkedAt: z.string(),
    state: DriftState,
    differences: z.array(z.object({ resource: z.string(), type: z.string(), change: z.string(), properties: z.array(z.string()) })),
    acceptedAt: z.string().nullable(),
    error: z.string().nullable(),
  })
  .openapi("Drift");

export const SubscriptionList = z.object({ subscriptions: z.array(SubscriptionView), nextCursor: NextCursor });
export const SubscriptionDetail = SubscriptionView.extend({
  operations: z.array(Operation),
  drift: Drift.nullable(),
}).openapi("SubscriptionDetail");

export const SubscriptionParams = z.object({
  id: z.string().pipe(SubscriptionId).openapi({ param: { name: "id", in: "path" }, example: "42" }),
});
export const OperationParams = SubscriptionParams.extend({
  op: z.coerce.number().int().positive().openapi({ param: { name: "op", in: "path" }, example: 7 }),
});
export const ListQuery = PageQuery.extend({
  phase: Phase.optional().openapi({ param: { name: "phase", in: "query" } }),
  status: SubscriptionStatus.optional().openapi({ param: { name: "status", in: "query" } }),
  search: z.string().trim().min(1).max(200).optional()
    .openapi({ param: { name: "search", in: "query" }, description: "part of the subscription's id, or of its customer's id, name or email (any case)", example: "example ltd" }),
  target: TargetName.optional().openapi({ param: { name: "target", in: "query" }, description: "only the subscriptions in this target (TARGETS_FILE)", example: "default" }),
});
export const DriftQuery = PageQuery.extend({ state: DriftState.optional().openapi({ param: { name: "state", in: "query" } }) });
export const CredentialsQuery = z.object({
  format: CredentialsFormat.default("json").openapi({ param: { name: "format", in: "query" } }),
});

export const PreviewResponse = z
  .object({ stack: z.string(), changeSummary: z.record(z.string(), z.number()), text: z.string() })
  .openapi("Preview");

/** The stack's history as the engine reads it from Pulumi (provisioning/engine.ts): the audit log as is. */
// No `.openapi()` on it: the engine's module may load before @hono/zod-openapi extends zod's prototype.
export const HistoryEntry = EngineHistoryEntry;
export const HistoryResponse = z.object({ stack: z.string(), history: z.array(HistoryEntry) }).openapi("History");

export const RetryAccepted = z.object({ status: z.literal("accepted"), subscription: SubscriptionView });
export const TokenIssued = z.object({ subscription: z.string(), credentialsToken: z.string() });

export const CredentialsJson = documented(CredentialsDocument).openapi("Credentials");
/** What the YAML served for `format=clouds.yaml` holds, once parsed. */
export const CloudsYaml = documented(CloudsYamlDocument).openapi("CloudsYaml");
/**
 * One Server-Sent Event as a client reads it (WHATWG HTML, "event stream interpretation"): its name, its
 * id (to resume with Last-Event-ID) and its data, one JSON document.
 */
export const ProgressEvent = z
  .object({ event: z.string(), id: z.string().optional().openapi({ description: "none on `unavailable`" }), data: z.string().openapi({ description: "JSON: the operation and what happened" }) })
  .openapi("ProgressEvent");

/** A subscription set aside because its stored record cannot be read (issue 31): named, never failing the whole list. */
export const UnreadableSubscription = z
  .object({ subscription: z.string(), reason: z.string(), since: z.string() })
  .openapi("UnreadableSubscription", { description: "a subscription whose stored record this version cannot read: left out of lists, billing runs (named in their `unbilled`) and operations until repaired" });

export const Health = z
  .object({
    status: z.enum(["ok", "degraded"]),
    ready: z.boolean().optional().openapi({ description: "operators only: whether it can provision now" }),
    missing: z.array(z.string()).optional().openapi({ description: "operators only: what keeps it from provisioning, one line each" }),
    unreadable: z.array(UnreadableSubscription).optional().openapi({ description: "operators only: subscriptions set aside because their stored record cannot be read" }),
  })
  .catchall(z.unknown())
  .openapi("Health", { description: "`status` for anyone; with the operator token also `missing` (what keeps it from provisioning) and the checks behind it. Liveness is the 200 itself" });

export const DoctorFinding = z
  .object({ status: z.enum(["ok", "warn", "fail"]), check: z.string(), message: z.string() })
  .openapi("DoctorFinding", { description: "fail: provisioning (or selling) cannot work; warn: a feature will not" });
export const DoctorReport = z
  .object({ ok: z.boolean(), findings: z.array(DoctorFinding) })
  .openapi("DoctorReport", { description: "the service's configuration checked where it runs: `ok` when no finding fails" });

export const DriftList = z.object({ drift: z.array(Drift) });
export const DriftPage = DriftList.extend({ nextCursor: NextCursor });
export const DriftSweep = z.object({
  results: z.array(
    z.object({
      subscription: z.string(),
      outcome: z.enum(["checked", "skipped", "failed"]),
      state: DriftState.optional(),
      reason: z.string().optional(),
    }),
  ),
});
export const DriftRepairAccepted = z.object({ status: z.literal("accepted"), subscription: SubscriptionView, drift: Drift });

/** A reconcile job that failed for good. */
export const DeadLetter = z
  .object({ job: z.string(), subscription: z.string(), error: z.string(), attempts: z.number().int(), failedAt: z.string() })
  .openapi("DeadLetter");
export const DeadLetterList = z.object({ deadLetters: z.array(DeadLetter), nextCursor: NextCursor });

export const RunRequest = z
  .object({
    period: PeriodName,
    /** Re-rate a billed period: credit what changed and issue the next invoice versions (CloudKitty's reprocessing). */
    rerate: z.boolean().optional().openapi({ description: "re-rate a period already billed: credit notes and new invoice versions for the charges that changed, nothing for the others" }),
  })
  .strict()
  .openapi("BillingRunRequest");
/** A run's delivery to BILLING_WEBHOOK_URL: waiting for its next attempt (after an error), delivered, or failed for good. */
export const Delivery = z
  .object({
    status: z.enum(["waiting", "delivered", "failed"]), attempts: z.number().int(), at: z.string(), error: z.string().nullable(),
    nextAt: z.string().nullable().openapi({ description: "when a waiting delivery is tried again" }),
  })
  .openapi("Delivery");
export const BillingRun = z
  .object({
    id: z.number().int(),
    period: z.string(),
    kind: z.enum(["bill", "rerate"]).openapi({ description: "`bill`: the period's first run (invoices version 1); `rerate`: a re-rating of it" }),
    changes: z.array(documented(RerateChange).openapi("RerateChange")).nullable().openapi({ description: "a re-rating's outcome per subscription (null for a bill)" }),
    createdAt: z.string(),
    pricesVersion: z.string(),
    currency: z.string(),
    invoiceCount: z.number().int(),
    total: z.string(),
    targetTotals: z
      .array(documented(TargetTotal).openapi("TargetTotal"))
      .nullable()
      .openapi({ description: "the run's invoices totalled per target (the region or cloud each tenant is in) and currency: exact sums of the invoices' totals, adding up to `total`; null for runs stored before totals per target were kept" }),
    delivery: Delivery.nullable(),
    unbilled: z
      .array(z.object({ subscription: z.string(), reason: z.string() }))
      .openapi({ description: "subscriptions this run could not bill because their stored history cannot be read (named in /healthz); a re-rating bills them once repaired" }),
  })
  .openapi("BillingRun");
export const BillingRunCreated = z.object({ created: z.boolean(), run: BillingRun });
export const BillingRunList = z.object({ runs: z.array(BillingRun), nextCursor: NextCursor });
/** The invoices and the inputs are billing's own documents (domain/billing.ts): the same as posted to the billing URL. */
export const BillingRunDetail = z.object({
  run: BillingRun,
  invoices: z.array(documented(IssuedInvoice).openapi("Invoice")),
  /** A re-rating's credit notes, each cancelling one invoice version of the period (none for a bill). */
  credits: z.array(documented(CreditNote).openapi("CreditNote")),
  inputs: documented(BillingInputs).openapi("BillingInputs"),
});
export const BillingRunParams = z.object({ id: z.coerce.number().int().positive().openapi({ param: { name: "id", in: "path" }, example: 1 }) });
export const DeliveryResponse = z.object({ run: z.number(), delivery: Delivery });

/** One call back to Cloudesire in the outbox (`call` is what is sent; the password never is stored). */
export const OutboxCallView = z
  .object({
    id: z.number().int(),
    subscriptionId: z.string(),
    lane: OutboxLane,
    call: z.record(z.string(), z.unknown()),
    state: z.enum(["pending", "sending", "sent", "skipped", "dead", "held"]),
    attempts: z.number().int(),
    nextAt: z.string(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    sentAt: z.string().nullable(),
    kind: z.string(),
  })
  .openapi("CloudesireCall");
/** A Cloudesire subscription: the reads asked for and done, what was reported, and its outbox. */
export const CloudesireSubscription = z
  .object({
    subscription: z.string(),
    wanted: z.number().int(), synced: z.number().int(), attempts: z.number().int(), deleted: z.boolean(), reads: z.number().int(),
    lastRead: z.object({ at: z.string(), deploymentStatus: z.string(), paid: z.boolean().nullable(), type: z.string().nullable(), verdict: z.string() }).nullable(),
    lastError: z.string().nullable(),
    reported: documented(Reported),
    outbox: z.array(OutboxCallView),
  })
  .openapi("CloudesireSubscription");
export const CloudesireDeadCalls = z.object({ deadLetters: z.array(OutboxCallView), nextCursor: NextCursor });
export const CloudesireSyncAccepted = z.object({ status: z.literal("accepted"), subscription: z.string() });

/** The fleet at a glance (the console's first view): counts, and the Cloudesire outbox when selling there. */
export const FleetSummary = z
  .object({
    total: z.number().int(),
    phases: z.object(Object.fromEntries(Phase.options.map((p) => [p, z.number().int()])) as Record<z.infer<typeof Phase>, z.ZodNumber>)
      .openapi({ description: "subscriptions in each phase" }),
    deadLetters: z.number().int().openapi({ description: "reconcile jobs that failed for good" }),
    drifted: z.number().int().openapi({ description: "stacks whose last drift check found differences" }),
    outbox: z
      .object({ waiting: z.number().int(), dead: z.number().int(), held: z.number().int(), oldestWaitingSeconds: z.number() })
      .nullable()
      .openapi({ description: "calls back to Cloudesire; null when the service does not sell on Cloudesire" }),
    unreadable: z.array(UnreadableSubscription).openapi({ description: "subscriptions set aside because their stored record cannot be read: counted in total, left out of lists, billing runs and operations until repaired" }),
  })
  .openapi("FleetSummary");

export const EXAMPLES = {
  event: EXAMPLE_EVENT,
  subscription: EXAMPLE_SUBSCRIPTION,
  accepted: { status: "accepted", event: "evt-0001", subscription: { ...EXAMPLE_SUBSCRIPTION, phase: "pending", appliedGeneration: 0, outputs: null }, credentialsToken: "ct_3q2Xb1...elided" },
  duplicate: { status: "duplicate", event: "evt-0001", original: "applied", reason: null },
  drift: {
    subscriptionId: "42", checkedAt: "2026-11-25T03:00:00.000Z", state: "drifted",
    differences: [{ resource: "compute-quota", type: "openstack:compute/quotaSetV2:QuotaSetV2", change: "update", properties: ["cores"] }],
    acceptedAt: null, error: null,
  },
  billingRun: {
    id: 1, period: "2026-10", kind: "bill", changes: null, createdAt: "2026-11-01T00:05:00.000Z", pricesVersion: "2026-10", currency: "EUR",
    invoiceCount: 2, total: "70.49",
    targetTotals: [{ target: "milan", currency: "EUR", invoiceCount: 1, total: "45.38" }, { target: "frankfurt", currency: "EUR", invoiceCount: 1, total: "25.11" }],
    delivery: { status: "delivered", attempts: 1, at: "2026-11-01T00:05:01.000Z", error: null, nextAt: null }, unbilled: [],
  },
  problem: { type: "about:blank", title: "subscription 43 not found", status: 404 },
} as const;
