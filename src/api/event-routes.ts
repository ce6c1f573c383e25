import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { conflict, invalid } from "../domain/errors.js";
import { futureViolation, type MarketplaceEvent } from "../domain/event.js";
import { planViolations } from "../domain/plan.js";
import { inCanonicalTarget, type TenantSettings } from "../domain/tenant-spec.js";
import type { Metrics } from "../metrics.js";
import type { IntakeBatcher } from "../store/intake-batcher.js";
import type { EventIntake } from "../store/subscription-store.js";
import type { AppEnv } from "./app.js";
import { validationHook } from "./problem.js";
import { json, problem } from "./route-docs.js";
import * as S from "./schemas.js";
import { currentCustomerToken } from "./tokens.js";
import { view } from "./views.js";

/** The label of a refused webhook request in tenants_events_refused_total. */
function refusalReason(status: number): string {
  switch (status) {
    case 429: return "rate_limited";
    case 400: return "malformed";
    case 401: return "signature";
    case 413: return "too_large";
    case 415: return "media_type";
    case 422: return "invalid";
    case 503: return "not_configured";
    default: return String(status);
  }
}

/** The generic marketplace's webhook (mounted at /v1): its events, stored durably before they are answered. */
export function eventRoutes(deps: {
  /** Where events go: stored and folded (by group commit), their jobs queued with them. */
  intake: Pick<IntakeBatcher, "submit">;
  /** A subscription with work to do is started now rather than at the reconciler's next poll. */
  kick: (id: string) => void;
  /** Plans are checked against its limits and placed in its targets. */
  settings: TenantSettings;
  replayWindowSeconds: number;
  /** The key customers' credentials tokens are derived from. */
  customerTokenKey: string;
  metrics?: Pick<Metrics, "eventsReceived" | "eventsRejected"> | undefined;
  now: () => number;
  /** The body's bound, the WEBHOOK_SECRET signature check, then the rate limit of signed requests (api/app.ts). */
  signed: MiddlewareHandler[];
}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  /**
   * The customer's key to its credentials, in the answer to the event that created the subscription and
   * to every `subscription.created` event of it (a re-delivery after a lost answer, or one that arrived
   * after another event had created it): the marketplace, which passes it on, always gets one that works.
   * A re-delivery gets the token its first delivery got, or none once an operator has re-issued it: a
   * captured request replayed inside the window must not fetch the token that replaced a leaked one.
   */
  const tokenInAnswer = (event: MarketplaceEvent, result: EventIntake): string | undefined => {
    const sub = result.subscription;
    if (!sub || sub.id !== event.subscription.id || sub.desired.status === "cancelled") return undefined;
    if (result.outcome === "duplicate" && result.firstTokenGeneration !== sub.tokenGeneration) return undefined;
    const creating = (result.outcome === "applied" && result.created) || event.type === "subscription.created";
    return creating ? currentCustomerToken(deps.customerTokenKey, sub) : undefined;
  };

  const eventReceived: MiddlewareHandler<AppEnv> = async (c, next) => {
    try {
      await next();
    } finally {
      if (c.res.status >= 400 && c.res.status !== 409) deps.metrics?.eventsRejected.inc({ reason: refusalReason(c.res.status) });
    }
  };
  app.openapi(
    createRoute({
      method: "post", path: "/events", tags: ["marketplace"],
      summary: "Marketplace webhook: stored durably before the 202",
      description:
        "Signed with WEBHOOK_SECRET: `X-Timestamp: <unix seconds>` and `X-Signature: sha256=<hex HMAC-SHA256(secret, \"<timestamp>.<raw body>\")>`, " +
        "timestamp within the replay window. A duplicate event id is acknowledged with 200 and applied once.",
      // Counted from the first: a request refused for its size or signature is a refused event too.
      middleware: [eventReceived, ...deps.signed],
      request: {
        headers: z.object({
          "x-timestamp": z.string().openapi({ example: "1795514400" }),
          "x-signature": z.string().openapi({ example: "sha256=4f1c9b0e6a3d2c7b8e5f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b" }),
        }),
        body: { required: true, content: { "application/json": { schema: S.Event, example: S.EXAMPLES.event } } },
      },
      responses: {
        202: json(S.EventAccepted, "stored; the subscription's stack will be updated", S.EXAMPLES.accepted),
        200: json(S.EventAcknowledged, "a duplicate or a stale event: acknowledged, nothing new applied", S.EXAMPLES.duplicate),
        400: problem("body is not valid UTF-8, or not JSON"),
        401: problem("missing or bad signature, or timestamp outside the replay window"),
        409: problem("a transition that makes no sense (resume of a cancelled subscription, a subscription moved to another target), or an event id or a subscription of another marketplace (ids beginning `cloudesire-`, a subscription sold through Cloudesire)"),
        413: problem("body too large"),
        429: problem("too many requests, or too many failed signatures, from this source (Retry-After says when to retry)"),
        415: problem("not application/json"),
        422: problem("body does not match the schema (text with a NUL or a lone surrogate included), the plan exceeds the operator's limits or names an unknown target, or occurredAt is further ahead than the replay window"),
        503: problem("WEBHOOK_SECRET is not configured"),
      },
    }),
    async (c) => {
      const event = inCanonicalTarget(c.req.valid("json"), deps.settings);
      c.set("logFields", { ...c.get("logFields"), event: event.id, subscription: event.subscription.id });
      const violations = planViolations(event.subscription.plan, deps.settings.limits);
      if (violations.length > 0) throw invalid("plan exceeds the operator's limits", violations);
      const ahead = futureViolation(event, deps.now(), deps.replayWindowSeconds);
      if (ahead) throw invalid(ahead);

      const result = await deps.intake.submit({ event });
      deps.metrics?.eventsReceived.inc({ type: event.type, outcome: result.outcome });
      c.set("logFields", { ...c.get("logFields"), type: event.type, outcome: result.outcome });
      const token = tokenInAnswer(event, result);
      // A token in the answer: no cache keeps it.
      const headers = token ? { "cache-control": "no-store" } : undefined;
      switch (result.outcome) {
        case "duplicate":
          return c.json({ status: "duplicate" as const, event: event.id, original: result.original, reason: result.reason, ...(token ? { credentialsToken: token } : {}) }, 200, headers);
        case "stale":
          return c.json({ status: "stale" as const, event: event.id, reason: result.reason, ...(token ? { credentialsToken: token } : {}) }, 200, headers);
        case "rejected":
          throw conflict(result.reason, { event: event.id });
        case "applied":
          if (result.subscription.phase === "pending") deps.kick(event.subscription.id);
          return c.json({ status: "accepted" as const, event: event.id, subscription: view(result.subscription), ...(token ? { credentialsToken: token } : {}) }, 202, headers);
      }
    },
  );
  return app;
}
