import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { badRequest, invalid, notFound, conflict, unauthorized, unavailable } from "../domain/errors.js";
import { MarketplaceEvent } from "../domain/event.js";
import { planViolations } from "../domain/plan.js";
import { SubscriptionId, stackNameOf } from "../domain/subscription-id.js";
import { tenantSpecOf, type TenantSettings } from "../domain/tenant-spec.js";
import type { Logger } from "../log.js";
import { CredentialsFormat, renderCredentials } from "../provisioning/credentials.js";
import type { Engine } from "../provisioning/engine.js";
import { Phase, type SubscriptionRecord, type SubscriptionStore } from "../store/subscription-store.js";
import type { BillingService } from "../metering/billing-service.js";
import type { BillingRunRecord, BillingStore } from "../store/billing-store.js";
import { billingRoutes } from "./billing-routes.js";
import { onError, problemResponse } from "./problem.js";
import { bearerOf, hashToken, newCustomerToken, sameSecret } from "./tokens.js";
import { verifyWebhook } from "../domain/webhook-signature.js";

export interface AppDeps {
  store: SubscriptionStore;
  engine: Engine;
  reconciler: { kick(id: string): void };
  settings: TenantSettings;
  webhookSecret: string | undefined;
  replayWindowSeconds: number;
  operatorToken: string;
  log: Logger;
  health: () => Promise<{ status: "ok" | "degraded"; [k: string]: unknown }>;
  billing?: { service: BillingService<BillingRunRecord>; store: BillingStore };
  now?: () => number;
}

/** Webhook bodies are small JSON documents; anything larger is refused before it is read whole. */
export const MAX_EVENT_BYTES = 64 * 1024;

const zodDetail = (e: z.ZodError) => e.issues.map((i) => ({ path: i.path.join("."), message: i.message }));

export function createApp(deps: AppDeps) {
  const now = deps.now ?? Date.now;
  const app = new Hono();
  app.onError(onError(deps.log));
  app.notFound((c) => problemResponse(c, 404, `no route for ${c.req.method} ${c.req.path}`));

  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    deps.log.info("request", { method: c.req.method, path: c.req.path, status: c.res.status, durationMs: Math.round((performance.now() - started) * 100) / 100 });
  });

  app.get("/healthz", async (c) => {
    const h = await deps.health();
    // Liveness: 200 while the service runs; `status` and `missing` say whether it can provision.
    return c.json(h, 200);
  });

  app.post(
    "/v1/events",
    bodyLimit({ maxSize: MAX_EVENT_BYTES, onError: (c) => problemResponse(c, 413, `event body larger than ${MAX_EVENT_BYTES} bytes`) }),
    async (c) => {
      if (!deps.webhookSecret) throw unavailable("WEBHOOK_SECRET is not configured: webhooks are refused until it is");
      const rawBody = await c.req.text();
      verifyWebhook({
        secret: deps.webhookSecret,
        timestamp: c.req.header("x-timestamp"),
        signature: c.req.header("x-signature"),
        rawBody,
        nowSeconds: Math.floor(now() / 1000),
        windowSeconds: deps.replayWindowSeconds,
      });
      let json: unknown;
      try {
        json = JSON.parse(rawBody);
      } catch {
        throw badRequest("body is not valid JSON");
      }
      const parsed = MarketplaceEvent.safeParse(json);
      if (!parsed.success) throw invalid("event does not match the schema", zodDetail(parsed.error));
      const event = parsed.data;
      const violations = planViolations(event.subscription.plan, deps.settings.limits);
      if (violations.length > 0) throw invalid("plan exceeds the operator's limits", violations);

      const token = newCustomerToken();
      const result = await deps.store.intake(event, hashToken(token));
      deps.log.info("event", { event: event.id, type: event.type, subscription: event.subscription.id, outcome: result.outcome });
      switch (result.outcome) {
        case "duplicate":
          return c.json({ status: "duplicate", event: event.id, original: result.original, reason: result.reason }, 200);
        case "stale":
          return c.json({ status: "stale", event: event.id, reason: result.reason }, 200);
        case "rejected":
          throw conflict(result.reason, { event: event.id });
        case "applied":
          if (result.subscription.phase === "pending") deps.reconciler.kick(event.subscription.id);
          return c.json(
            {
              status: "accepted",
              event: event.id,
              subscription: view(result.subscription),
              // Handed back once, on the event that created the subscription: the customer's key to its credentials.
              ...(result.created ? { credentialsToken: token } : {}),
            },
            202,
          );
      }
    },
  );

  const operator: MiddlewareHandler = async (c, next) => {
    const token = bearerOf(c.req.header("authorization"));
    if (!token || !sameSecret(token, deps.operatorToken)) throw unauthorized("operator bearer token required");
    await next();
  };

  if (deps.billing) app.route("/v1/billing-runs", billingRoutes({ ...deps.billing, billing: deps.billing.service, operator }));

  const subscriptionOr404 = async (c: Context): Promise<SubscriptionRecord> => {
    const id = SubscriptionId.safeParse(c.req.param("id"));
    if (!id.success) throw notFound("no such subscription");
    const sub = await deps.store.get(id.data);
    if (!sub) throw notFound(`subscription ${id.data} not found`);
    return sub;
  };

  app.get("/v1/subscriptions", operator, async (c) => {
    const raw = c.req.query("phase");
    const phase = raw === undefined ? undefined : Phase.safeParse(raw);
    if (phase && !phase.success) throw invalid(`phase must be one of ${Phase.options.join(", ")}`);
    return c.json({ subscriptions: (await deps.store.list({ phase: phase?.data })).map(view) });
  });

  app.get("/v1/subscriptions/:id", operator, async (c) => {
    const sub = await subscriptionOr404(c);
    return c.json({ ...view(sub), operations: await deps.store.operations(sub.id, 10) });
  });

  app.post("/v1/subscriptions/:id/preview", operator, async (c) => {
    const sub = await subscriptionOr404(c);
    if (sub.desired.status === "cancelled") throw conflict("subscription is cancelled: there is nothing to preview");
    const result = await deps.engine.preview({ stack: stackNameOf(sub.id), spec: tenantSpecOf(sub.desired, deps.settings) });
    return c.json({ stack: stackNameOf(sub.id), ...result });
  });

  app.get("/v1/subscriptions/:id/history", operator, async (c) => {
    const sub = await subscriptionOr404(c);
    return c.json({ stack: stackNameOf(sub.id), history: await deps.engine.history(stackNameOf(sub.id)) });
  });

  app.post("/v1/subscriptions/:id/retry", operator, async (c) => {
    const sub = await subscriptionOr404(c);
    const updated = await deps.store.retry(sub.id);
    if (!updated) throw notFound(`subscription ${sub.id} not found`);
    deps.reconciler.kick(sub.id);
    return c.json({ status: "accepted", subscription: view(updated) }, 202);
  });

  app.post("/v1/subscriptions/:id/credentials-token", operator, async (c) => {
    const sub = await subscriptionOr404(c);
    const token = newCustomerToken();
    await deps.store.setTokenHash(sub.id, hashToken(token));
    return c.json({ subscription: sub.id, credentialsToken: token }, 201, { "cache-control": "no-store" });
  });

  app.get("/v1/subscriptions/:id/credentials", async (c) => {
    const token = bearerOf(c.req.header("authorization"));
    if (!token) throw unauthorized("bearer token required (the subscription's credentials token or the operator token)");
    const isOperator = sameSecret(token, deps.operatorToken);
    const id = SubscriptionId.safeParse(c.req.param("id"));
    const sub = id.success ? await deps.store.get(id.data) : null;
    // A customer token that does not match looks the same whether or not the subscription exists.
    if (!isOperator && (!sub || !sub.tokenHash || !sameSecret(hashToken(token), sub.tokenHash))) {
      throw unauthorized("token not valid for this subscription");
    }
    if (!sub) throw notFound("no such subscription");
    const format = CredentialsFormat.safeParse(c.req.query("format") ?? "json");
    if (!format.success) throw invalid(`format must be one of ${CredentialsFormat.options.join(", ")}`);
    if (sub.desired.status === "cancelled") throw conflict("subscription is cancelled: its credentials no longer exist");
    const outputs = sub.outputs ? await deps.engine.outputs(stackNameOf(sub.id)) : null;
    if (!outputs) throw conflict("the tenant is not provisioned yet: try again when its phase is 'ready'");
    const rendered = renderCredentials(stackNameOf(sub.id), outputs, format.data);
    return c.body(rendered.body, 200, { "content-type": rendered.contentType, "cache-control": "no-store" });
  });

  return app;
}

/** The operator's view of a subscription: no secrets, no token hash. */
export function view(sub: SubscriptionRecord) {
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
    outputs: sub.outputs,
    createdAt: sub.createdAt,
    updatedAt: sub.updatedAt,
  };
}
