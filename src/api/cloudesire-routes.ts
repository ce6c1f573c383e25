import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { BilledResource } from "../domain/billing.js";
import { badRequest, notFound, unauthorized, unavailable } from "../domain/errors.js";
import { storable } from "../domain/storable.js";
import type { Decimal } from "../metering/money.js";
import { sameSecret } from "./tokens.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import type { Logger } from "../log.js";
import { Notification, OrderValidationRequest, ParameterValues, ParameterValuesRequest } from "../marketplaces/cloudesire/contract.js";
import { orderPlanOf, validateOrder, type CloudesireProduct } from "../marketplaces/cloudesire/mapping.js";
import type { CapacityService } from "../provisioning/capacity.js";
import type { Amounts } from "../domain/capacity.js";
import { verifyNotificationRotating } from "../marketplaces/cloudesire/signature.js";
import type { CloudesireStore } from "../store/cloudesire-store.js";
import { boundedBody, jsonBodyRequired } from "./body-limit.js";
import { cursorsOf, PAGE_REFUSED, PAGED, PageQuery } from "./pages.js";
import { problemResponse, validationHook } from "./problem.js";
import { FORBIDDEN, json, OPERATOR, onSubscription, problem, UNAUTHORIZED } from "./route-docs.js";
import type { AuditEnv, Audited } from "./audit-routes.js";
import type { RequireRole } from "./operator-auth.js";
import { CloudesireDeadCalls, CloudesireSubscription, CloudesireSyncAccepted, OutboxCallView } from "./schemas.js";
import { cloudesireView, outboxCallView } from "./views.js";

export interface CloudesireRouteDeps {
  store: CloudesireStore;
  /** CLOUDESIRE_EVENT_SECRET; none: notifications are refused (503). */
  eventSecret: string | undefined;
  /** CLOUDESIRE_EVENT_SECRET_PREVIOUS: accepted too while the secret is rotated. */
  previousEventSecret?: string | undefined;
  product: CloudesireProduct;
  /** Operators' routes: reads are a viewer's, a sync an operator's, a dead call's resend an admin's. */
  requireRole: RequireRole;
  audited: Audited;
  /**
   * Cloudesire's metric polls ("application metrics"): the product's custom header and its value, and the
   * usage so far of a subscription (null: not ours); no `usage`: no Gnocchi to read it from.
   */
  metrics?: { header: string; token: string | undefined; usage: ((id: string, resource: BilledResource) => Promise<Decimal | null>) | undefined };
  /** A read was asked for: start it now. */
  kick: () => void;
  log: Logger;
  /** Runs a signature check, counting a failure against its source's failed authentications (api/app.ts). */
  signatureChecked: <T>(c: Context, verify: () => T) => T;
  /** After a good signature: the per-source rate limit of signed marketplace requests. */
  afterSignature: MiddlewareHandler[];
  /** What each target has left to sell (an order it cannot host is refused); none: not checked. */
  capacity?: CapacityService | undefined;
  /** Why each target cannot be worked on now, by name: such a target is not offered. */
  targetProblems?: (() => Promise<Record<string, string | null>>) | undefined;
  /** The targets offered as the target parameter's values, the default first, with the customer's description. */
  targets?: ReadonlyArray<{ name: string; label: string }> | undefined;
  /** What a subscription holds now in Placement's units (an upgrade's order leaves room for it), or null. */
  current?: ((id: string) => Promise<Amounts | null>) | undefined;
}

const NOTIFICATION_EXAMPLE = { entity: "Subscription", id: "2388", entityUrl: "subscription/2388", type: "CREATED", date: "2015-01-12T11:19:30Z" };
const DEAD_CALL_PAGES = cursorsOf("cloudesire dead letters", z.number().int().positive());
const OutboxParams = z.object({ call: z.coerce.number().int().positive().openapi({ param: { name: "call", in: "path" }, example: 7 }) });

/**
 * Cloudesire's routes (mounted at /v1/cloudesire): its notifications, its order validation, and the
 * operators' view of each subscription's reads and outbox.
 */
export function cloudesireRoutes(deps: CloudesireRouteDeps) {
  const app = new OpenAPIHono<AuditEnv>({ defaultHook: validationHook });

  const signed: MiddlewareHandler = async (c, next) => {
    if (!deps.eventSecret) throw unavailable("CLOUDESIRE_EVENT_SECRET is not configured: Cloudesire notifications are refused until it is");
    // The signature covers the raw bytes: checked before anything is parsed.
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const secret = deps.eventSecret;
    const by = deps.signatureChecked(c, () => verifyNotificationRotating(secret, deps.previousEventSecret, c.req.header("cmw-event-signature"), raw));
    if (by === "previous") deps.log.info("cloudesire notification signed with the previous secret", { signedWith: by });
    await next();
  };

  app.openapi(
    createRoute({
      method: "post", path: "/events", tags: ["marketplace"],
      summary: "Cloudesire notification (syndication): stored durably before the 204, then the subscription is read again",
      description:
        "Signed by Cloudesire: `CMW-Event-Signature: sha1=<hex HMAC-SHA1(CLOUDESIRE_EVENT_SECRET, raw body)>`. The notification carries no state: " +
        "the subscription (and its buyer) is read from Cloudesire's API and converged on, whatever order or how often notifications arrive. " +
        "Entities other than `Subscription` are acknowledged and ignored. A notification identical to one already stored is counted on it, not stored again.",
      middleware: [boundedBody(64 * 1024, (c) => problemResponse(c, 413, "notification body larger than 64 KiB")), signed, ...deps.afterSignature],
      request: {
        headers: z.object({ "cmw-event-signature": z.string().openapi({ example: "sha1=bd637c3b084f7c5039aaf2808c3bc6bd7b6c283d" }) }),
        // Text PostgreSQL can store and metadata of bounded depth: a 422 naming the field, not a 500 retried for ever.
        body: { required: true, content: { "application/json": { schema: Notification.superRefine(storable), example: NOTIFICATION_EXAMPLE } } },
      },
      responses: {
        204: { description: "stored (or ignored: not a subscription); the subscription will be read" },
        400: problem("body is not JSON"),
        401: problem("missing or bad CMW-Event-Signature"),
        429: problem("too many notifications, or too many failed signatures, from this source (Retry-After says when to retry)"),
        413: problem("body too large"),
        422: problem("body is not a notification, holds text that cannot be stored (NUL, lone surrogate), or nests deeper than 32 levels"),
        503: problem("CLOUDESIRE_EVENT_SECRET is not configured"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const n = { ...body, id: String(body.id) };
      const isSubscription = n.entity === "Subscription";
      const id = isSubscription ? SubscriptionId.safeParse(n.id) : null;
      const ignored = !isSubscription ? `entity ${n.entity} is not handled` : !id?.success || !/^\d+$/.test(n.id) ? `subscription id ${n.id} is not a decimal id` : null;
      await deps.store.recordNotification({
        entity: n.entity, entityId: n.id, type: n.type, body: n, subscription: ignored ? null : n.id, ignored,
      });
      deps.log.info("cloudesire notification", { entity: n.entity, id: n.id, type: n.type, ...(ignored ? { ignored } : {}) });
      if (!ignored) deps.kick();
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get", path: "/metrics/{meter}", tags: ["marketplace"],
      summary: "Cloudesire metric poll: a PAYG subscription's usage so far of one meter, in unit-hours (a counter)",
      description:
        "Cloudesire's application metrics (ApplicationMetricDTO: onboard each as a **counter** with the function `INCREASE`): it polls with " +
        "`CD-Subscription-Id: <id>` and the product's custom header (`CLOUDESIRE_METRICS_HEADER: CLOUDESIRE_METRICS_TOKEN`). The value only grows: " +
        "the usage a billing run would rate, from the subscription's start until now; a trial's hours count zero. 404: not a subscription of ours.",
      request: {
        // The API's own zod (extended for OpenAPI), over the domain's meter names.
        params: z.object({ meter: z.enum(BilledResource.options).openapi({ param: { name: "meter", in: "path" }, example: "cores" }) }),
        headers: z.object({ "cd-subscription-id": z.string().regex(/^\d+$/).openapi({ example: "4242" }) }),
      },
      responses: {
        200: json(z.object({ value: z.number() }), "unit-hours used so far (core-hours, GB-hours, IP-hours)", { value: 1234.5 }),
        401: problem("missing or wrong custom header"),
        404: problem("not a subscription sold here, or no such meter"),
        422: problem("no CD-Subscription-Id"),
        503: problem("CLOUDESIRE_METRICS_TOKEN or Gnocchi is not configured"),
      },
    }),
    async (c) => {
      const m = deps.metrics;
      if (!m?.token) throw unavailable("CLOUDESIRE_METRICS_TOKEN is not configured: Cloudesire's metric polls are refused until it is");
      const given = c.req.header(m.header);
      if (!given || !sameSecret(given, m.token)) throw unauthorized(`missing or wrong ${m.header}`);
      if (!m.usage) throw unavailable("GNOCCHI_URL is not configured: usage cannot be read");
      const id = c.req.valid("header")["cd-subscription-id"];
      const used = await m.usage(id, c.req.valid("param").meter);
      if (!used) throw notFound(`subscription ${id} is not sold by this service`);
      // Written from the decimal (6 places, as billing shows quantities), never through a float.
      return c.body(`{"value":${used.toFixed(6)}}`, 200, { "content-type": "application/json" }) as never;
    },
  );

  app.openapi(
    createRoute({
      method: "post", path: "/order-validation", tags: ["marketplace"], middleware: [jsonBodyRequired],
      summary: "Cloudesire order validation: refuses quantities this cloud would refuse, before the order is placed",
      description: "docs/order-validation.md: `204` accepts; `200 {\"errors\":[{\"message\"}]}` refuses. Terminations and unsubscriptions are always accepted.",
      request: { body: { required: true, content: { "application/json": { schema: OrderValidationRequest, example: { productVersionId: 456, billingItems: { CPU_CORES: 8, RAM_GB: 16, DISK_GB: 200, IP_ADDRESSES: 2 }, orderType: "NORMAL" } } } } },
      responses: {
        204: { description: "the order is acceptable" },
        200: json(z.object({ errors: z.array(z.object({ message: z.string() })) }), "the order is refused, with reasons the customer reads", { errors: [{ message: "CPU cores: 80 is more than the 64 this cloud sells per subscription" }] }),
        422: problem("no JSON body, or a body that is not an order"),
      },
    }),
    async (c) => {
      const order = c.req.valid("json");
      const errors = validateOrder(order, deps.product);
      const bought = errors.length === 0 ? orderPlanOf(order, deps.product) : null;
      if (bought && "plan" in bought && deps.capacity) {
        // An upgrade's own plan today is not counted twice: what it is sold now leaves room for itself.
        const id = order.subscriptionId == null ? "" : String(order.subscriptionId);
        const current = id ? await deps.current?.(id) : null;
        errors.push(...(await deps.capacity.shortfalls(id, bought.plan, { current: current ?? null })));
      }
      if (errors.length === 0) return c.body(null, 204);
      return c.json({ errors: errors.map((message) => ({ message })) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post", path: "/configuration-parameter-values", tags: ["marketplace"], middleware: [jsonBodyRequired],
      summary: "Cloudesire external configuration parameter values: the targets (regions) a customer may buy in",
      description: "docs/external-configuration-parameter-values.md. For the target parameter (CLOUDESIRE_TARGET_PARAMETER): the targets that answer and have room left to sell, in order, the default first; `null` (any value) for a parameter that is not ours.",
      request: { body: { required: true, content: { "application/json": { schema: ParameterValuesRequest, example: { productId: 123, productVersionId: 456, configurationParameter: "REGION", configurationParameters: {}, language: "en" } } } } },
      responses: { 200: json(ParameterValues, "the values, in display order", { values: [{ value: "default", description: "Milan" }, { value: "two", description: "Frankfurt" }] }), 422: problem("not such a request") },
    }),
    async (c) => {
      const req = c.req.valid("json");
      const t = deps.product.target;
      if (!t || req.configurationParameter !== t.code) return c.json({ values: null }, 200);
      const problems = (await deps.targetProblems?.()) ?? {};
      const report = deps.capacity ? await deps.capacity.report() : [];
      // Only targets that can host a plan: they answer, and have something of every resource left to sell.
      const full = new Set(report.filter((r) => r.sellable && Object.entries(r.sellable).some(([k, v]) => v - (r.sold[k as keyof typeof r.sold] ?? 0) <= 0)).map((r) => r.target));
      const offered = (deps.targets ?? []).filter((x) => !problems[x.name] && !full.has(x.name));
      return c.json({ values: offered.map((x) => ({ value: x.name, description: x.label })) }, 200);
    },
  );

  app.openapi(
    createRoute(onSubscription([deps.requireRole("viewer")], {
      method: "get", path: "/subscriptions/{id}", tags: ["operators"],
      summary: "A Cloudesire subscription: its reads, what was reported, and its outbox of calls back",
      responses: { 200: json(CloudesireSubscription, "reads and outbox, oldest call first") },
    } as const)),
    async (c) => {
      const id = c.req.valid("param").id;
      const rec = await deps.store.get(id);
      if (!rec) throw notFound(`subscription ${id} was never notified by Cloudesire`);
      return c.json(cloudesireView(rec, await deps.store.outboxOf(id)), 200);
    },
  );

  app.openapi(
    createRoute(onSubscription([deps.requireRole("operator"), deps.audited("cloudesire.sync")], {
      method: "post", path: "/subscriptions/{id}/sync", tags: ["operators"],
      summary: "Read the subscription from Cloudesire again now, and converge on it",
      responses: { 202: json(CloudesireSyncAccepted, "the read is queued") },
    } as const)),
    async (c) => {
      const id = c.req.valid("param").id;
      if (!/^\d+$/.test(id)) throw badRequest("a Cloudesire subscription id is a decimal number");
      await deps.store.requestSync(id);
      deps.kick();
      return c.json({ status: "accepted" as const, subscription: id }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get", path: "/dead-letters", tags: ["operators"], security: OPERATOR, middleware: [deps.requireRole("viewer")],
      summary: "Calls back to Cloudesire that need an operator: refused (dead), or of unknown outcome (held)",
      description: PAGED, request: { query: PageQuery },
      responses: { 200: json(CloudesireDeadCalls, "newest first"), 401: UNAUTHORIZED, 403: FORBIDDEN, 422: problem(PAGE_REFUSED) },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await deps.store.deadLetterPage({ limit, after: DEAD_CALL_PAGES.decode(cursor, {}) });
      return c.json({ deadLetters: page.items.map(outboxCallView), nextCursor: DEAD_CALL_PAGES.next(page, {}) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post", path: "/outbox/{call}/resolve", tags: ["operators"], security: OPERATOR, middleware: [deps.requireRole("admin"), deps.audited("cloudesire.resolve")],
      summary: "Decide a dead or held call: send it again, or record that it landed",
      request: {
        params: OutboxParams,
        body: { required: true, content: { "application/json": { schema: z.object({ action: z.enum(["resend", "sent"]) }), example: { action: "sent" } } } },
      },
      responses: { 200: json(OutboxCallView, "the call as it now is"), 401: UNAUTHORIZED, 403: FORBIDDEN, 404: problem("no dead or held call with this id"), 422: problem("action must be resend or sent") },
    }),
    async (c) => {
      const row = await deps.store.resolve(c.req.valid("param").call, c.req.valid("json").action, c.get("operator").name);
      if (!row) throw notFound(`no dead or held call ${c.req.valid("param").call}`);
      c.get("auditAbout")(row.subscriptionId);
      deps.kick();
      return c.json(outboxCallView(row), 200);
    },
  );

  return app;
}
