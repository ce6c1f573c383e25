import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { conflict, forbidden, notFound } from "../domain/errors.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import { roleAllows, roleRefusal, type OperatorIdentity } from "../domain/operator.js";
import { SubscriptionId, stackNameOf } from "../domain/subscription-id.js";
import { canonicalTarget } from "../domain/target.js";
import { defaultTargetOf, tenantSpecOf, type TenantSettings } from "../domain/tenant-spec.js";
import { renderCredentials } from "../provisioning/credentials.js";
import type { Engine } from "../provisioning/engine.js";
import type { ProgressHub } from "../provisioning/progress.js";
import type { DriftStore } from "../store/drift-store.js";
import { DeadLetterKey, type JobQueue } from "../store/job-queue.js";
import type { SubscriptionStore } from "../store/subscription-store.js";
import type { AppEnv } from "./app.js";
import type { Audited } from "./audit-routes.js";
import type { Authenticate, RequireRole } from "./operator-auth.js";
import { cursorsOf, PAGE_REFUSED, PAGED, PageQuery } from "./pages.js";
import { validationHook } from "./problem.js";
import { FORBIDDEN, json, OPERATOR, onSubscription, problem, UNAUTHORIZED } from "./route-docs.js";
import * as S from "./schemas.js";
import { operationEvents } from "./sse.js";
import { bearerOf, customerToken, customerTokenOpens } from "./tokens.js";
import { deadLetterView, driftView, operationView, view } from "./views.js";

const SUBSCRIPTION_PAGES = cursorsOf("subscriptions", SubscriptionId);
const DEAD_LETTER_PAGES = cursorsOf("dead letters", DeadLetterKey);

/** Finds a subscription for a route, naming it in the request's log line (404 if there is none; api/app.ts). */
type Load = (id: string, c: Context<AppEnv>) => Promise<SubscriptionRecord>;

/**
 * Operator routes on subscriptions (mounted at /v1): the list, one subscription, its preview and history,
 * retry, password rotation, an operation's live progress; and the reconcile jobs that failed for good,
 * each a subscription's.
 */
export function subscriptionRoutes(deps: {
  store: Pick<SubscriptionStore, "page" | "operations" | "operation">;
  engine: Pick<Engine, "preview" | "history">;
  queue: Pick<JobQueue, "deadLetterPage">;
  /** A plan's target and its stack's spec are read against these. */
  settings: TenantSettings;
  /** One subscription's last drift check is shown with it; none: drift detection is off. */
  drift?: Pick<DriftStore, "get"> | undefined;
  /** Operations running in this process, for their live progress; none: no such route. */
  progress?: ProgressHub | undefined;
  requireRole: RequireRole;
  /** The role check and audit of an operator's action (api/app.ts). */
  acting: (action: string) => MiddlewareHandler[];
  load: Load;
  /** Applies the desired state again, `what` by whom in the stack history (api/app.ts). */
  requeue: (c: Context<AppEnv>, id: string, what: string, also?: { rotatePassword: boolean }) => Promise<SubscriptionRecord>;
  /** Whether the credentials a request came with still hold (a stream outlives its request's check). */
  stillValid: (c: Context) => Promise<boolean>;
}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const { acting, load, requeue } = deps;
  const viewer = [deps.requireRole("viewer")];

  app.openapi(
    createRoute({
      method: "get", path: "/subscriptions", tags: ["operators"], summary: "Subscriptions and their state", security: OPERATOR,
      description: PAGED,
      middleware: viewer, request: { query: S.ListQuery },
      responses: { 200: json(S.SubscriptionList, "subscriptions, by id", { subscriptions: [S.EXAMPLES.subscription], nextCursor: null }), 401: UNAUTHORIZED, 403: FORBIDDEN, 422: problem(`unknown phase, status or target; ${PAGE_REFUSED}`) },
    }),
    async (c) => {
      const { limit, cursor, ...filter } = c.req.valid("query");
      // A plan in the default target names none (domain/target.ts): that target's filter is "names none".
      const target = filter.target === undefined ? undefined : (canonicalTarget(filter.target, defaultTargetOf(deps.settings)) ?? null);
      const page = await deps.store.page({ ...filter, target, limit, after: SUBSCRIPTION_PAGES.decode(cursor, filter) });
      return c.json({ subscriptions: page.items.map(view), nextCursor: SUBSCRIPTION_PAGES.next(page, filter) }, 200);
    },
  );

  app.openapi(
    createRoute(onSubscription(viewer, {
      method: "get", path: "/subscriptions/{id}", tags: ["operators"], summary: "One subscription: desired state, phase, outputs (no secrets), last operations, drift",
      responses: { 200: json(S.SubscriptionDetail, "the subscription") },
    } as const)),
    async (c) => {
      const sub = await load(c.req.valid("param").id, c);
      const drift = deps.drift ? await deps.drift.get(sub.id) : null;
      return c.json({ ...view(sub), operations: (await deps.store.operations(sub.id, 10)).map(operationView), drift: drift && driftView(drift) }, 200);
    },
  );

  app.openapi(
    createRoute(onSubscription(acting("subscription.preview"), {
      method: "post", path: "/subscriptions/{id}/preview", tags: ["operators"], summary: "What an update of the stack would change (pulumi preview)",
      responses: { 200: json(S.PreviewResponse, "the engine's preview: counts and Pulumi's diff text"), 409: problem("cancelled"), 502: problem("the engine failed") },
    } as const)),
    async (c) => {
      const sub = await load(c.req.valid("param").id, c);
      if (sub.desired.status === "cancelled") throw conflict("subscription is cancelled: there is nothing to preview");
      const result = await deps.engine.preview({ stack: stackNameOf(sub.id), spec: tenantSpecOf(sub.desired, deps.settings) });
      return c.json({ stack: stackNameOf(sub.id), ...result }, 200);
    },
  );

  app.openapi(
    createRoute(onSubscription(viewer, {
      method: "get", path: "/subscriptions/{id}/history", tags: ["operators"], summary: "The stack's update history: the audit log",
      responses: { 200: json(S.HistoryResponse, "newest first; each message names the event that caused it") },
    } as const)),
    async (c) => {
      const sub = await load(c.req.valid("param").id, c);
      return c.json({ stack: stackNameOf(sub.id), history: await deps.engine.history(stackNameOf(sub.id)) }, 200);
    },
  );

  app.openapi(
    createRoute(onSubscription(acting("subscription.retry"), {
      method: "post", path: "/subscriptions/{id}/retry", tags: ["operators"], summary: "Apply the desired state again (after a failure)",
      responses: { 202: json(S.RetryAccepted, "queued") },
    } as const)),
    async (c) => {
      const sub = await load(c.req.valid("param").id, c);
      return c.json({ status: "accepted" as const, subscription: view(await requeue(c, sub.id, "operator retry")) }, 202);
    },
  );

  app.openapi(
    createRoute(onSubscription(acting("subscription.rotate-password"), {
      method: "post", path: "/subscriptions/{id}/rotate-password", tags: ["operators"],
      summary: "Give the customer's Keystone user a new password (a stack update named so in the history); the served credentials follow",
      responses: { 202: json(S.RetryAccepted, "queued"), 409: problem("the subscription is cancelled") },
    } as const)),
    async (c) => {
      const sub = await load(c.req.valid("param").id, c);
      if (sub.desired.status === "cancelled") throw conflict(`subscription ${sub.id} is cancelled: it has no password to rotate`);
      return c.json({ status: "accepted" as const, subscription: view(await requeue(c, sub.id, "password rotation", { rotatePassword: true })) }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get", path: "/dead-letters", tags: ["operators"], security: OPERATOR, middleware: viewer,
      summary: "Reconcile jobs that failed for good: retries exhausted, or a failure no retry can fix",
      description: PAGED, request: { query: PageQuery },
      responses: { 200: json(S.DeadLetterList, "newest first; the subscription's own state says `failed` with the same cause"), 401: UNAUTHORIZED, 403: FORBIDDEN, 422: problem(PAGE_REFUSED) },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await deps.queue.deadLetterPage({ limit, after: DEAD_LETTER_PAGES.decode(cursor, {}) });
      return c.json({ deadLetters: page.items.map(deadLetterView), nextCursor: DEAD_LETTER_PAGES.next(page, {}) }, 200);
    },
  );

  if (deps.progress) {
    const progress = deps.progress;
    app.openapi(
      createRoute({
        method: "get", path: "/subscriptions/{id}/operations/{op}/events", tags: ["operators"],
        summary: "Live progress of an operation (Server-Sent Events)",
        description:
          "Events: `started`, `output` (engine output lines), `resource` (one resource started/done, with done/total), `retry`, `finished` (result). " +
          "Each event has an id; reconnect with `Last-Event-ID` to resume. An operation not running in this process gets its final `finished` event from the store.",
        security: OPERATOR, middleware: viewer, request: { params: S.OperationParams },
        responses: { 200: { description: "an event stream", content: { "text/event-stream": { schema: S.ProgressEvent } } }, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: problem("no such subscription or operation") },
      }),
      async (c) => {
        const { id, op } = c.req.valid("param");
        const sub = await load(id, c);
        const record = await deps.store.operation(sub.id, op);
        if (!record) throw notFound(`operation ${op} of subscription ${sub.id} not found`);
        return operationEvents(c, { progress, operation: record, lastEventId: c.req.header("last-event-id"), stillAllowed: () => deps.stillValid(c) });
      },
    );
  }
  return app;
}

/**
 * A subscription's OpenStack credentials (mounted at /v1): the customer's route, opened by its credentials
 * token (or an admin's), and an admin's re-issue of that token when one has leaked.
 */
export function credentialsRoutes(deps: {
  store: Pick<SubscriptionStore, "get" | "reissueToken">;
  engine: Pick<Engine, "outputs">;
  /** The key customers' credentials tokens are derived from. */
  customerTokenKey: string;
  requireRole: RequireRole;
  audited: Audited;
  /** A customer's failed tokens count against its source as operators' do (api/app.ts). */
  authenticated: Authenticate;
  /** The operator a bearer token belongs to, if any (api/operator-auth.ts). */
  operatorByToken: (token: string) => Promise<OperatorIdentity | null>;
  load: Load;
}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const { load } = deps;

  app.openapi(
    createRoute(onSubscription([deps.requireRole("admin"), deps.audited("subscription.credentials-token")], {
      method: "post", path: "/subscriptions/{id}/credentials-token", tags: ["operators"],
      summary: "Issue a new customer credentials token (the old one stops working)",
      responses: { 201: json(S.TokenIssued, "the new token, shown once") },
    } as const)),
    async (c) => {
      const sub = await load(c.req.valid("param").id, c);
      const generation = await deps.store.reissueToken(sub.id);
      if (generation === null) throw notFound(`subscription ${sub.id} not found`);
      return c.json({ subscription: sub.id, credentialsToken: customerToken(deps.customerTokenKey, sub.id, generation) }, 201, { "cache-control": "no-store" });
    },
  );

  // Authorised before anything is validated: an unknown id and a wrong token look the same to a customer.
  // An operator's token opens every subscription's credentials only for an admin: they are the customer's secrets.
  const customer: MiddlewareHandler<AppEnv> = async (c, next) => {
    const token = bearerOf(c.req.header("authorization"));
    const found = await deps.authenticated(c, async () => {
      if (!token) return null;
      const id = SubscriptionId.safeParse(c.req.param("id"));
      const sub = id.success ? await deps.store.get(id.data) : null;
      if (sub && customerTokenOpens(deps.customerTokenKey, sub, token)) return { sub, operator: null };
      const operator = await deps.operatorByToken(token);
      return operator ? { sub, operator } : null;
    }, token ? "token not valid for this subscription" : "bearer token required (the subscription's credentials token or an admin operator's token)");
    if (found.operator && !roleAllows(found.operator.role, "admin")) throw forbidden(roleRefusal("admin", found.operator));
    const sub = found.sub;
    if (!sub) throw notFound("no such subscription");
    c.set("logFields", { subscription: sub.id });
    await next();
  };
  app.openapi(
    createRoute({
      method: "get", path: "/subscriptions/{id}/credentials", tags: ["customers"],
      summary: "The customer's OpenStack credentials (json, clouds.yaml or openrc)",
      security: [{ customerToken: [] }, { operatorToken: [] }],
      middleware: [customer],
      request: { params: S.SubscriptionParams, query: S.CredentialsQuery },
      responses: {
        200: {
          description: "the credentials (no-store)",
          content: { "application/json": { schema: S.CredentialsJson }, "application/yaml": { schema: S.CloudsYaml }, "text/plain": { schema: z.string() } },
        },
        401: problem("no token, or a token not valid for this subscription"),
        403: problem("an operator's token, but not an admin's"),
        404: problem("no such subscription (an admin operator's token only)"),
        409: problem("not provisioned yet, or cancelled"),
        422: problem("unknown format"),
      },
    }),
    async (c) => {
      // Validated by the route's schemas; read raw because a handler that returns a plain body loses their types.
      const sub = await load(S.SubscriptionParams.parse(c.req.param()).id, c);
      if (sub.desired.status === "cancelled") throw conflict("subscription is cancelled: its credentials no longer exist");
      const outputs = sub.outputs ? await deps.engine.outputs(stackNameOf(sub.id)) : null;
      if (!outputs) throw conflict("the tenant is not provisioned yet: try again when its phase is 'ready'");
      const rendered = renderCredentials(stackNameOf(sub.id), outputs, S.CredentialsQuery.parse(c.req.query()).format);
      return c.body(rendered.body, 200, { "content-type": rendered.contentType, "cache-control": "no-store" });
    },
  );
  return app;
}
