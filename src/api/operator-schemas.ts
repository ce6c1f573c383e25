/**
 * The shapes of the operators', sessions' and audit routes (api/operator-routes.ts, session-routes.ts,
 * audit-routes.ts), as api/schemas.ts is for the rest: they validate requests, generate /openapi.json
 * and type tenantctl's `operator` and `audit` commands and the console.
 */
import { z } from "@hono/zod-openapi";
import { OPERATOR_NAME_PATTERN, OPERATOR_NAME_RULE, Role as DomainRole } from "../domain/operator.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import { NextCursor, PageQuery } from "./pages.js";

export const Role = z.enum(DomainRole.options).openapi("Role", {
  description: "viewer: reads; operator: also retries, repairs, rotations, previews, rollouts; admin: also billing runs, dead-letter resends, operator management",
});

export const Operator = z
  .object({
    name: z.string(),
    role: Role,
    createdAt: z.string().nullable().openapi({ description: "null for root (OPERATOR_TOKEN), which is not stored" }),
    revokedAt: z.string().nullable(),
  })
  .openapi("Operator");
/** The domain's rule, declared with the API's zod so that /openapi.json carries the pattern (a client can tell a good name). */
const OperatorName = z.string().regex(OPERATOR_NAME_PATTERN, OPERATOR_NAME_RULE);
export const OperatorList = z.object({ operators: z.array(Operator) });
export const OperatorCreate = z
  .object({ name: OperatorName.openapi({ example: "alice" }), role: Role })
  .strict()
  .openapi("OperatorCreate");
export const OperatorCreated = Operator.extend({
  token: z.string().openapi({ description: "the operator's bearer token: shown this once, only its hash is kept", example: "op_3q2-7wQ…" }),
}).openapi("OperatorCreated");
export const OperatorParams = z.object({ name: OperatorName.openapi({ param: { name: "name", in: "path" }, example: "alice" }) });

export const SessionLogin = z.object({ token: z.string().min(1).max(512) }).strict().openapi("SessionLogin");
export const Session = z
  .object({
    name: z.string(),
    role: Role,
    csrf: z.string().openapi({ description: "send it as X-CSRF-Token with every POST, PUT, PATCH or DELETE made with the session cookie" }),
  })
  .openapi("Session");

export const AuditQuery = PageQuery.extend({
  since: z.iso.datetime({ offset: true }).optional()
    .openapi({ param: { name: "since", in: "query" }, description: "only items at or after this instant (ISO 8601 with a zone, e.g. 2026-12-01T00:00:00Z)", example: "2026-12-01T00:00:00Z" }),
  subscription: z.string().pipe(SubscriptionId).optional()
    .openapi({ param: { name: "subscription", in: "query" }, description: "only items about this subscription", example: "42" }),
});
export const AuditItem = z
  .object({
    id: z.string().openapi({ description: "unique in the trail: action:<n>, event:<event id>, cloudesire:<n>" }),
    at: z.string(),
    actor: z.string().openapi({ description: "operator:<name>, marketplace:generic or marketplace:cloudesire", example: "operator:alice" }),
    action: z.string().openapi({ description: "an operator's action (subscription.retry, billing.run, operator.add...) or the event's type", example: "subscription.retry" }),
    subscriptionId: z.string().nullable(),
    result: z.string().openapi({ description: "ok, or the refusal/failure (HTTP status and message), or the event's outcome", example: "ok" }),
  })
  .openapi("AuditItem");
export const AuditPage = z.object({ items: z.array(AuditItem), nextCursor: NextCursor }).openapi("AuditPage");

export const EXAMPLE_AUDIT = {
  items: [
    { id: "action:12", at: "2026-12-01T10:05:00.000Z", actor: "operator:alice", action: "subscription.retry", subscriptionId: "42", result: "ok" },
    { id: "event:evt-0001", at: "2026-12-01T10:00:00.000Z", actor: "marketplace:generic", action: "subscription.created", subscriptionId: "42", result: "ok" },
  ],
  nextCursor: null,
};
