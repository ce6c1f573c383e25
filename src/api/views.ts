import type { z } from "@hono/zod-openapi";
import type { BillingRunRecord } from "../domain/billing.js";
import type { DriftRecord } from "../domain/drift.js";
import type { OperationRecord, SubscriptionRecord } from "../domain/lifecycle.js";
import { stackNameOf } from "../domain/subscription-id.js";
import type { OutboxRow, SyncRecord } from "../store/cloudesire-store.js";
import type { DeadLetter } from "../store/job-queue.js";
import type * as S from "./schemas.js";

/**
 * Records as the API shows them: the one place where what is stored becomes what is published (api/schemas.ts).
 * Each field is named, so a column added to a record stays private until it is added here and to its schema.
 */
type View<T extends z.ZodType> = z.infer<T>;

/** The operator's view of a subscription: no secrets, no token hash. */
export function view(sub: SubscriptionRecord): View<typeof S.SubscriptionView> {
  return {
    id: sub.id,
    stack: stackNameOf(sub.id),
    status: sub.desired.status,
    phase: sub.phase,
    plan: sub.desired.plan,
    customer: sub.desired.customer,
    lastEvent: sub.desired.lastEvent,
    generation: sub.generation,
    appliedGeneration: sub.appliedGeneration,
    lastError: sub.lastError,
    outputs: sub.outputs && {
      projectId: sub.outputs.projectId, userId: sub.outputs.userId, userName: sub.outputs.userName,
      authUrl: sub.outputs.authUrl, region: sub.outputs.region, domainId: sub.outputs.domainId,
    },
    createdAt: sub.createdAt,
    updatedAt: sub.updatedAt,
  };
}

export function operationView(o: OperationRecord): View<typeof S.Operation> {
  return { id: o.id, kind: o.kind, eventId: o.eventId, generation: o.generation, startedAt: o.startedAt, finishedAt: o.finishedAt, result: o.result, error: o.error };
}

export function driftView(d: DriftRecord): View<typeof S.Drift> {
  return {
    subscriptionId: d.subscriptionId,
    checkedAt: d.checkedAt,
    state: d.state,
    differences: d.differences.map((x) => ({ resource: x.resource, type: x.type, change: x.change, properties: x.properties })),
    acceptedAt: d.acceptedAt,
    error: d.error,
  };
}

export function deadLetterView(d: DeadLetter): View<typeof S.DeadLetter> {
  return { job: d.job, subscription: d.subscription, error: d.error, attempts: d.attempts, failedAt: d.failedAt };
}

export function billingRunView(r: BillingRunRecord): View<typeof S.BillingRun> {
  return {
    id: r.id, period: r.period, kind: r.kind, changes: r.changes, createdAt: r.createdAt, pricesVersion: r.pricesVersion, currency: r.currency,
    invoiceCount: r.invoiceCount, total: r.total, targetTotals: r.targetTotals, delivery: r.delivery && { status: r.delivery.status, attempts: r.delivery.attempts, at: r.delivery.at, error: r.delivery.error, nextAt: r.delivery.nextAt },
    unbilled: r.unbilled,
  };
}

export function outboxCallView(r: OutboxRow): View<typeof S.OutboxCallView> {
  return {
    id: r.id, subscriptionId: r.subscriptionId, lane: r.lane, call: r.call, state: r.state, attempts: r.attempts,
    nextAt: r.nextAt, lastError: r.lastError, createdAt: r.createdAt, sentAt: r.sentAt, kind: r.call.kind,
  };
}

export function cloudesireView(rec: SyncRecord, outbox: OutboxRow[]): View<typeof S.CloudesireSubscription> {
  return {
    subscription: rec.id, wanted: rec.wanted, synced: rec.synced, attempts: rec.attempts, deleted: rec.deleted, reads: rec.reads,
    lastRead: rec.lastRead, lastError: rec.lastError, reported: rec.reported, outbox: outbox.map(outboxCallView),
  };
}
