import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { AuditEnv } from "./audit-routes.js";
import type { RequireRole } from "./operator-auth.js";
import { conflict } from "../domain/errors.js";
import type { DriftCheckResult, DriftDetector } from "../provisioning/drift.js";
import type { DriftStore } from "../store/drift-store.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import { cursorsOf, PAGE_REFUSED, PAGED } from "./pages.js";
import { validationHook } from "./problem.js";
import { FORBIDDEN, json, OPERATOR, onSubscription, problem, UNAUTHORIZED } from "./route-docs.js";
import * as S from "./schemas.js";
import { driftView, view } from "./views.js";

const DRIFT_PAGES = cursorsOf("drift", SubscriptionId);

const resultView = (r: DriftCheckResult) => (r.outcome === "checked" ? { subscription: r.subscription, outcome: r.outcome, state: r.record.state } : r);

/** Operator routes of drift detection (mounted at /v1): findings, checks now, repair, accept. */
export function driftRoutes(deps: {
  store: DriftStore;
  detector: DriftDetector;
  requireRole: RequireRole;
  /** The role check and audit of an operator's action (api/app.ts). */
  acting: (action: string) => MiddlewareHandler[];
  load: (id: string, c: Context) => Promise<SubscriptionRecord>;
  /** Applies the desired state again, `what` by whom in the stack history (api/app.ts). */
  requeue: (c: Context<AuditEnv>, id: string, what: string, also: { refresh: boolean }) => Promise<SubscriptionRecord>;
}) {
  const app = new OpenAPIHono<AuditEnv>({ defaultHook: validationHook });
  app.openapi(
    createRoute({
      method: "get", path: "/drift", tags: ["drift"], summary: "The last drift check of every stack", security: OPERATOR, description: PAGED,
      middleware: [deps.requireRole("viewer")], request: { query: S.DriftQuery },
      responses: { 200: json(S.DriftPage, "by subscription", { drift: [S.EXAMPLES.drift], nextCursor: null }), 401: UNAUTHORIZED, 403: FORBIDDEN, 422: problem(`unknown state; ${PAGE_REFUSED}`) },
    }),
    async (c) => {
      const { limit, cursor, ...filter } = c.req.valid("query");
      const page = await deps.store.page({ ...filter, limit, after: DRIFT_PAGES.decode(cursor, filter) });
      return c.json({ drift: page.items.map(driftView), nextCursor: DRIFT_PAGES.next(page, filter) }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "post", path: "/drift/checks", tags: ["drift"], summary: "Check every ready stack for drift now (refresh --preview-only)", security: OPERATOR,
      middleware: deps.acting("drift.check-all"),
      responses: { 200: json(S.DriftSweep, "one result per ready subscription"), 401: UNAUTHORIZED, 403: FORBIDDEN },
    }),
    async (c) => c.json({ results: (await deps.detector.sweep()).map(resultView) }, 200),
  );
  app.openapi(
    createRoute(onSubscription(deps.acting("drift.check"), {
      method: "post", path: "/subscriptions/{id}/drift/check", tags: ["drift"], summary: "Check one stack for drift now",
      responses: { 200: json(S.DriftSweep, "the result") },
    } as const)),
    async (c) => {
      const sub = await deps.load(c.req.valid("param").id, c);
      return c.json({ results: [resultView(await deps.detector.check(sub.id))] }, 200);
    },
  );
  const driftOf = async (id: string) => {
    const found = await deps.store.get(id);
    if (!found || (found.state !== "drifted" && found.state !== "accepted")) throw conflict(`subscription ${id} has no drift to act on (last check: ${found?.state ?? "never"})`);
    return found;
  };
  app.openapi(
    createRoute(onSubscription(deps.acting("drift.repair"), {
      method: "post", path: "/subscriptions/{id}/drift/repair", tags: ["drift"],
      summary: "Put the declared state back: a normal stack update, recorded in the history as a drift repair",
      responses: { 202: json(S.DriftRepairAccepted, "the update is queued"), 409: problem("nothing drifted") },
    } as const)),
    async (c) => {
      const sub = await deps.load(c.req.valid("param").id, c);
      const found = await driftOf(sub.id);
      const changed = found.differences.map((d) => `${d.resource}${d.properties.length ? ` (${d.properties.join(", ")})` : ""}`).join("; ");
      // Refreshed first: without it the update diffs against the saved state and sees no difference.
      const updated = await deps.requeue(c, sub.id, `drift repair of ${changed}`, { refresh: true });
      return c.json({ status: "accepted" as const, subscription: view(updated), drift: driftView(found) }, 202);
    },
  );
  app.openapi(
    createRoute(onSubscription(deps.acting("drift.accept"), {
      method: "post", path: "/subscriptions/{id}/drift/accept", tags: ["drift"],
      summary: "Accept exactly these differences: not reported as drifted again unless they change",
      responses: { 200: json(S.DriftList, "the accepted record"), 409: problem("nothing drifted") },
    } as const)),
    async (c) => {
      const sub = await deps.load(c.req.valid("param").id, c);
      await driftOf(sub.id);
      const accepted = await deps.store.accept(sub.id);
      return c.json({ drift: accepted ? [driftView(accepted)] : [] }, 200);
    },
  );
  return app;
}
