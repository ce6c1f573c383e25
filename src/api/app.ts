import { OpenAPIHono, createRoute, type z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { badRequest, notFound, unauthorized, unavailable } from "../domain/errors.js";
import { targetsOf, type TenantSettings } from "../domain/tenant-spec.js";
import { demandOf } from "../domain/capacity.js";
import { verifyWebhook } from "../domain/webhook-signature.js";
import type { Logger } from "../log.js";
import type { BillingService } from "../metering/billing-service.js";
import type { Metrics } from "../metrics.js";
import type { DriftDetector } from "../provisioning/drift.js";
import type { Engine } from "../provisioning/engine.js";
import type { ProgressHub } from "../provisioning/progress.js";
import type { BillingStore } from "../store/billing-store.js";
import type { DriftStore } from "../store/drift-store.js";
import type { IntakeBatcher } from "../store/intake-batcher.js";
import type { JobQueue } from "../store/job-queue.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import type { SubscriptionStore } from "../store/subscription-store.js";
import { billingRoutes } from "./billing-routes.js";
import { cloudesireRoutes, type CloudesireRouteDeps } from "./cloudesire-routes.js";
import { passwordResetRoutes } from "./password-reset-routes.js";
import { boundedBody } from "./body-limit.js";
import { docsRoutes } from "./docs.js";
import { onError, problemResponse, validationHook } from "./problem.js";
import { rateLimit, SourceBuckets, type RateLimit } from "./rate-limit.js";
import { clientAddressOf } from "./client-address.js";
import * as S from "./schemas.js";
import { documentCommonAnswers, FORBIDDEN, json, OPERATOR, problem, text, UNAUTHORIZED } from "./route-docs.js";
import { driftRoutes } from "./drift-routes.js";
import { eventRoutes } from "./event-routes.js";
import { credentialsRoutes, subscriptionRoutes } from "./subscription-routes.js";
import { rolloutRoutes } from "./rollout-routes.js";
import type { RolloutRunner } from "../provisioning/rollout-runner.js";
import { fleetRoutes } from "./fleet-routes.js";
import { capacityRoutes } from "./capacity-routes.js";
import type { CapacityService } from "../provisioning/capacity.js";
import { consoleRoutes } from "./console-routes.js";
import { bearerOf, sameSecret } from "./tokens.js";
import type { OperatorIdentity } from "../domain/operator.js";
import type { AuditStore } from "../store/audit-store.js";
import type { OperatorStore } from "../store/operator-store.js";
import { auditing, auditRoutes, type AuditEnv } from "./audit-routes.js";
import { operatorAuth, SESSION_COOKIE, type Authenticate } from "./operator-auth.js";
import { operatorRoutes } from "./operator-routes.js";
import { sessionRoutes } from "./session-routes.js";
import { getCookie } from "hono/cookie";

export interface AppDeps {
  store: SubscriptionStore;
  /** Where webhooks' events go: stored and folded (by group commit), their jobs queued with them. */
  intake: Pick<IntakeBatcher, "submit">;
  engine: Engine;
  reconciler: { kick(id: string): void };
  /** Reconcile jobs: queued with the event's transaction, and after operator retries. */
  queue: Pick<JobQueue, "enqueue" | "deadLetterPage" | "deadLetterCount">;
  settings: TenantSettings;
  webhookSecret: string | undefined;
  /** Accepted too while the marketplace switches to a new webhook secret. */
  previousWebhookSecret?: string | undefined;
  replayWindowSeconds: number;
  /** OPERATOR_TOKEN: the admin named root. */
  operatorToken: string;
  /** Named operators and their console sessions. */
  operators: OperatorStore;
  /** The audit trail of operators' actions (and the marketplaces' events beside it). */
  audit: AuditStore;
  /** Whether a request came over https (the session cookie is then Secure); see TRUST_PROXY. */
  secure?: (c: Context) => boolean;
  /** The key customers' credentials tokens are derived from. */
  customerTokenKey: string;
  /** Required by /metrics when set (the operator token works too). */
  metricsToken?: string | undefined;
  log: Logger;
  /** The service's health: `status` is public, the rest is shown to operators only. */
  health: () => Promise<{ status: "ok" | "degraded"; [k: string]: unknown }>;
  /** Checks the service's configuration now, where it runs (`tenantctl doctor`); the route is absent without it. */
  doctor?: () => Promise<Array<z.output<typeof S.DoctorFinding>>>;
  billing?: { service: BillingService; store: BillingStore };
  metrics?: Metrics;
  progress?: ProgressHub;
  drift?: { store: DriftStore; detector: DriftDetector };
  /** Fleet rollouts (api/rollout-routes.ts). */
  rollouts?: RolloutRunner;
  now?: () => number;
  /** Per-source limit of authenticated webhook requests (429 beyond it); none if absent. */
  webhookRateLimit?: RateLimit;
  /** Per-source limit of failed authentications (429 beyond it, even for a right token); none if absent. */
  authFailureLimit?: RateLimit;
  /** Where a request comes from, for rate limits (the socket's address by default; see TRUST_PROXY). */
  sourceOf?: (c: Context) => string;
  /** Selling on Cloudesire: its notifications, order validation, operators' view (api/cloudesire-routes.ts). */
  cloudesire?: Omit<CloudesireRouteDeps, "requireRole" | "audited" | "log" | "signatureChecked" | "afterSignature">;
  /** The service sells on Cloudesire (its API is configured): the fleet view shows the outbox. */
  sellsOnCloudesire?: boolean;
  /** Each target's capacity (Placement) and what is sold there; none: nothing refused for capacity. */
  capacity?: CapacityService | undefined;
  /** Why each target cannot be worked on now, by name (openstack/target-health.ts). */
  targetProblems?: (() => Promise<Record<string, string | null>>) | undefined;
}

/** Every request body is bounded; webhooks more tightly (MAX_EVENT_BYTES). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Webhook bodies are small JSON documents; anything larger is refused before it is read whole. */
export const MAX_EVENT_BYTES = 64 * 1024;

/**
 * Fields a handler adds to its request's log line (subscription id, event id...); on operator routes,
 * who is calling (`operator`, set by the role check) and how its action is audited (`auditIn`).
 */
export type AppEnv = { Variables: { logFields: Record<string, unknown> } & AuditEnv["Variables"] };


export function createApp(deps: AppDeps) {
  const now = deps.now ?? Date.now;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(onError(deps.log));
  app.notFound((c) => problemResponse(c, 404, `no route for ${c.req.method} ${c.req.path}`));
  app.openAPIRegistry.registerComponent("securitySchemes", "operatorToken", {
    type: "http", scheme: "bearer",
    description: "an operator's token (tenantctl operator add), or OPERATOR_TOKEN (or the generated DATA_DIR/operator-token): the admin named root. The console's session cookie works too (unsafe methods with X-CSRF-Token).",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "customerToken", {
    type: "http", scheme: "bearer", description: "the credentialsToken handed back on subscription.created (or an admin operator's token)",
  });

  // One structured line per request; handlers add what identifies the work (subscription, event).
  app.use("*", async (c, next) => {
    const started = performance.now();
    c.set("logFields", {});
    await next();
    const seconds = (performance.now() - started) / 1000;
    deps.log.info("request", {
      method: c.req.method, path: c.req.path, status: c.res.status,
      durationMs: Math.round(seconds * 100_000) / 100, ...c.get("logFields"),
    });
    if (deps.metrics) {
      const route = routeOf(c);
      deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
      deps.metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
    }
  });

  // A path served with other methods is a 405 naming them (RFC 9110 15.5.6), not a 404 (nor a 404 from a
  // less specific route: GET /v1/rollouts/plan is not GET /v1/rollouts/:id).
  const allowedMethods = methodsOfPaths(() => app.routes);
  app.use("*", async (c, next) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length === 0 || allowed.includes(c.req.method)) return next();
    c.header("allow", allowed.join(", "));
    return problemResponse(c, 405, `${c.req.method} is not allowed on ${c.req.path}: ${allowed.join(", ")}`);
  });

  app.use("*", boundedBody(MAX_BODY_BYTES, (c) => problemResponse(c, 413, `body larger than ${MAX_BODY_BYTES} bytes`)));

  const sourceOf = deps.sourceOf ?? clientAddressOf({ kind: "off" });
  // Failed authentications per source: once a source has spent its budget, it waits (429), right token
  // or not, so guessing is slow; successes cost nothing, and other sources are not affected.
  const failures = deps.authFailureLimit ? new SourceBuckets(deps.authFailureLimit, now) : undefined;
  const authenticated: Authenticate = async (c, find, refusal) => {
    const source = sourceOf(c);
    failures?.check(source);
    const found = await find();
    if (found !== null && found !== undefined) return found;
    failures?.spend(source);
    throw unauthorized(refusal);
  };
  /**
   * A marketplace's signature check: a failure is a failed authentication of its source (429 once over
   * the limit). A signed request never waits for failures: an HMAC key cannot be guessed, and junk from
   * the same address must not stop the marketplace.
   */
  const signatureChecked = <T>(c: Context, verify: () => T): T => {
    try {
      return verify();
    } catch (e) {
      const source = sourceOf(c);
      failures?.check(source);
      failures?.spend(source);
      throw e;
    }
  };
  /** Counted after the signature: unsigned requests never spend the budget of the marketplace's. */
  const signedRateLimit = (): MiddlewareHandler[] => (deps.webhookRateLimit ? [rateLimit(deps.webhookRateLimit, sourceOf, now)] : []);
  // Operators: root (OPERATOR_TOKEN) and named ones, each with a role; bearer tokens or the console's session.
  const auth = operatorAuth({ operators: deps.operators, rootToken: deps.operatorToken, now, authenticated });
  const { requireRole } = auth;
  const audited = auditing(deps.audit);
  const viewer = [requireRole("viewer")];
  /** An operator's action on tenants: the operator role, recorded in the audit trail. */
  const acting = (action: string) => [requireRole("operator"), audited(action)];

  app.openapi(
    createRoute({
      method: "get", path: "/healthz", tags: ["service"], summary: "Liveness; with an operator's token (any role), what is missing before the service can provision",
      description: "Without a token (or with an ended console session): `status` only. With an operator's token or console session (any role): the details (what is missing, the cloud's checks, the database, the engine).",
      security: [{}, ...OPERATOR],
      responses: {
        200: json(S.Health, "always 200 while the service runs", { status: "degraded", ready: false, missing: ["WEBHOOK_SECRET is not set: webhooks are refused until it is"] }),
        401: problem("a token (or session) that is no operator's"),
        429: problem("too many failed authentications from this source"),
      },
    }),
    async (c) => {
      const report = await deps.health();
      // Operators see the records set aside as unreadable with the rest of what needs them.
      const details = async () => ({ ...report, unreadable: await deps.store.unreadable() });
      if (c.req.header("authorization") === undefined) {
        // The console's page asks with its cookie: an ended session sees the status, as a stranger does.
        const session = getCookie(c, SESSION_COOKIE);
        const who = session === undefined ? null : await auth.bySession(session);
        return c.json(who ? await details() : { status: report.status }, 200);
      }
      await auth.authorise(c, "viewer");
      return c.json(await details(), 200);
    },
  );

  if (deps.doctor) {
    const doctor = deps.doctor;
    app.openapi(
      createRoute({
        method: "get", path: "/v1/doctor", tags: ["service"], security: OPERATOR, middleware: viewer,
        summary: "Check the service's configuration now: admin credentials, member role, catalog, the pulumi CLI, Cloudesire",
        description: "What `tenantctl doctor` prints: the running service's own configuration, checked from where it runs (a shell's environment may differ).",
        responses: { 200: json(S.DoctorReport, "one finding per check", { ok: false, findings: [{ status: "fail", check: "pulumi", message: "the pulumi CLI is not on PATH: stacks cannot be updated" }] }), 401: UNAUTHORIZED, 403: FORBIDDEN, 429: problem("too many failed authentications from this source") },
      }),
      async (c) => {
        const findings = await doctor();
        return c.json({ ok: !findings.some((f) => f.status === "fail"), findings }, 200);
      },
    );
  }

  if (deps.metrics) {
    const metrics = deps.metrics;
    const metricsToken = deps.metricsToken;
    app.openapi(
      createRoute({
        method: "get", path: "/metrics", tags: ["service"], summary: "Prometheus metrics (text exposition format)",
        description: "Open unless METRICS_TOKEN is set; then it (or any operator's token or console session) is required.",
        security: metricsToken ? OPERATOR : [],
        responses: { 200: text("metrics", "text/plain; version=0.0.4"), 401: problem("METRICS_TOKEN is set and was not sent"), 403: FORBIDDEN, 429: problem("too many failed authentications from this source") },
      }),
      async (c) => {
        if (metricsToken) {
          const token = bearerOf(c.req.header("authorization"));
          if (token === undefined || !sameSecret(token, metricsToken)) await auth.authorise(c, "viewer");
        }
        return c.body(await metrics.text(), 200, { "content-type": metrics.contentType });
      },
    );
  }

  const verified: MiddlewareHandler<AppEnv> = async (c, next) => {
    const secret = deps.webhookSecret;
    if (!secret) throw unavailable("WEBHOOK_SECRET is not configured: webhooks are refused until it is");
    // The signature covers the exact bytes received (not text decoded from them, which drops a BOM and
    // turns bad bytes into U+FFFD): it is checked before the body is decoded, parsed or validated.
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const signedWith = signatureChecked(c, () =>
      verifyWebhook({
        secret, previousSecret: deps.previousWebhookSecret,
        timestamp: c.req.header("x-timestamp"), signature: c.req.header("x-signature"), rawBody: raw,
        nowSeconds: Math.floor(now() / 1000), windowSeconds: deps.replayWindowSeconds,
      }));
    if (signedWith === "previous") c.set("logFields", { ...c.get("logFields"), signedWith });
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(raw);
    } catch {
      throw badRequest("body is not valid UTF-8");
    }
    // RFC 8259 §8.1: JSON sent over a network carries no byte order mark; what is parsed is what was signed.
    if (text.startsWith("\uFEFF")) throw badRequest("body starts with a byte order mark (U+FEFF): JSON texts must not");
    await next();
  };
  /** The generic webhook's signed requests (events, order checks): a tighter bound, the signature, then the rate limit. */
  const signed = (what: string): MiddlewareHandler[] => [
    boundedBody(MAX_EVENT_BYTES, (c) => problemResponse(c, 413, `${what} body larger than ${MAX_EVENT_BYTES} bytes`)), verified, ...signedRateLimit(),
  ];
  app.route("/v1", eventRoutes({
    intake: deps.intake, kick: (id) => deps.reconciler.kick(id), settings: deps.settings, replayWindowSeconds: deps.replayWindowSeconds,
    customerTokenKey: deps.customerTokenKey, metrics: deps.metrics, now, signed: signed("event"),
  }));

  if (deps.cloudesire) {
    app.route("/v1/cloudesire", cloudesireRoutes({
      ...deps.cloudesire, requireRole, audited, log: deps.log, signatureChecked, afterSignature: signedRateLimit(),
      capacity: deps.capacity, targetProblems: deps.targetProblems, targets: targetsOf(deps.settings),
      current: async (id) => {
        const sub = await deps.store.get(id);
        return sub ? demandOf(sub.desired.plan) : null;
      },
    }));
  }
  if (deps.billing) app.route("/v1/billing-runs", billingRoutes({ ...deps.billing, billing: deps.billing.service, requireRole, audited, metrics: deps.metrics }));
  app.route("/v1", sessionRoutes({ auth, operators: deps.operators, now, secure: deps.secure ?? (() => false), authenticated }));
  app.route("/v1", operatorRoutes({ operators: deps.operators, requireRole, audited }));
  app.route("/v1", auditRoutes({ store: deps.audit, requireRole }));

  const load = async (id: string, c: { set: (k: "logFields", v: Record<string, unknown>) => void }): Promise<SubscriptionRecord> => {
    c.set("logFields", { subscription: id });
    const sub = await deps.store.get(id);
    if (!sub) throw notFound(`subscription ${id} not found`);
    return sub;
  };

  /**
   * Applies the desired state again (operator retry, drift repair, password rotation): `what` and who asked
   * ("operator retry by alice") is the stack history's message, recorded in the audit trail in the same
   * transaction; `also` is what the operation does besides.
   */
  const requeue = async (c: { get(k: "operator"): OperatorIdentity; get(k: "auditIn"): AppEnv["Variables"]["auditIn"] }, id: string, what: string, also: { refresh?: boolean; rotatePassword?: boolean } = {}): Promise<SubscriptionRecord> => {
    const updated = await deps.store.retry(id, `${what} by ${c.get("operator").name}`, also, (tx) => c.get("auditIn")(tx));
    if (!updated) throw notFound(`subscription ${id} not found`);
    // Operators' work: behind every customer's (the bulk lane).
    await deps.queue.enqueue(id, { lane: "bulk" });
    deps.reconciler.kick(id);
    return updated;
  };

  app.route("/v1", subscriptionRoutes({
    store: deps.store, engine: deps.engine, queue: deps.queue, settings: deps.settings, drift: deps.drift?.store, progress: deps.progress,
    requireRole, acting, load, requeue, stillValid: auth.stillValid,
  }));
  if (deps.drift) app.route("/v1", driftRoutes({ ...deps.drift, requireRole, acting, load, requeue }));
  // The customer's own password reset (a Cloudesire PASSWORD_RESET endpoint): the customers' lane.
  const customerReset = (id: string) => ({ actor: `customer:${id}`, action: "subscription.password-reset", subscriptionId: id });
  app.route("/v1", passwordResetRoutes({
    get: (id) => deps.store.get(id),
    customerTokenKey: deps.customerTokenKey,
    resetGeneration: (id) => deps.store.resets.generation(id),
    reset: async (id, generation, note) => {
      const done = await deps.store.retry(id, note, { rotatePassword: true }, async (tx) => {
        // The link's generation ends with the request, in its transaction: of two submissions at once, the
        // second finds it ended and its transaction (the request with it) is undone.
        if (!(await deps.store.resets.consume(tx, id, generation))) throw unauthorized("this password-reset link was used already");
        await deps.audit.record({ ...customerReset(id), result: "ok" }, tx);
      });
      if (!done) throw notFound(`subscription ${id} not found`);
      await deps.queue.enqueue(id, { lane: "customer" });
      deps.reconciler.kick(id);
    },
    refused: (id, result) => deps.audit.record({ ...customerReset(id), result }),
    authenticated,
    now,
  }));
  if (deps.rollouts) app.route("/v1", rolloutRoutes({ runner: deps.rollouts, requireRole, acting }));
  const cloudesireStore = deps.sellsOnCloudesire ? deps.cloudesire?.store : undefined;
  app.route("/v1", capacityRoutes({
    settings: deps.settings, capacity: deps.capacity, targetProblems: deps.targetProblems, subscription: (id) => deps.store.get(id), viewer,
    signed: signed("order"),
  }));
  app.route("/v1", fleetRoutes({
    viewer,
    countsByStatus: () => deps.store.countsByStatus(),
    unreadable: () => deps.store.unreadable(),
    deadLetterCount: () => deps.queue.deadLetterCount(),
    driftedCount: async () => (deps.drift ? deps.drift.store.driftedCount() : 0),
    outboxStats: cloudesireStore && (() => cloudesireStore.outboxStats()),
  }));
  app.route("/", consoleRoutes());

  app.route("/v1", credentialsRoutes({
    store: deps.store, engine: deps.engine, customerTokenKey: deps.customerTokenKey, requireRole, audited, authenticated, operatorByToken: auth.byToken, load,
  }));

  documentCommonAnswers(app.openAPIRegistry);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "openstack-tenants",
      version: "1",
      description: "Sells OpenStack tenants through a marketplace: one Pulumi stack per subscription, pay-as-you-go billing from Gnocchi.",
    },
  });
  app.route("/docs", docsRoutes("/openapi.json"));
  return app;
}

/**
 * The pattern of the route that answered (`/v1/subscriptions/:id`), for metrics' labels: raw paths would
 * give one series per subscription. Only the catch-all middlewares matched: no route (a 404).
 */
function routeOf(c: Context): string {
  const path = routePath(c, -1);
  return path === "" || path === "*" || path === "/*" ? "unmatched" : path;
}

/**
 * The methods each path is served with, from the app's routes (read on first use, once every route is
 * registered): `:param` matches one segment, `*` anything, and the most specific routes win
 * (`/v1/rollouts/plan` is not `/v1/rollouts/:id`). HEAD is served wherever GET is (Hono).
 */
function methodsOfPaths(routes: () => ReadonlyArray<{ method: string; path: string }>): (path: string) => string[] {
  let table: Array<{ method: string; pattern: RegExp; wildcards: number }> | undefined;
  const segment = (seg: string) => (seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return (path) => {
    table ??= routes()
      .filter((r) => r.method !== "ALL")
      .map((r) => ({ method: r.method, pattern: new RegExp(`^${r.path.split("/").map(segment).join("/")}/?$`), wildcards: r.path.split("/").filter((s) => s.startsWith(":") || s === "*").length }));
    const matching = table.filter((r) => r.pattern.test(path));
    const fewest = Math.min(...matching.map((r) => r.wildcards));
    const methods = new Set(matching.filter((r) => r.wildcards === fewest).map((r) => r.method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort();
  };
}
