import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { OperatorIdentity } from "../domain/operator.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import { AuditKey, type AuditStore } from "../store/audit-store.js";
import type { Db } from "../store/db.js";
import type { RequireRole } from "./operator-auth.js";
import { AuditPage, AuditQuery, EXAMPLE_AUDIT } from "./operator-schemas.js";
import { cursorsOf, PAGE_REFUSED, PAGED } from "./pages.js";
import { validationHook } from "./problem.js";
import { FORBIDDEN, json, OPERATOR, problem, UNAUTHORIZED } from "./route-docs.js";

/**
 * What an audited route has on its request: who is calling, and `auditIn(tx)`, which records the action
 * as done inside the transaction of the change it made (else it is recorded when the answer is known).
 */
export type AuditEnv = {
  Variables: {
    operator: OperatorIdentity;
    auditIn: (tx: Db, result?: string) => Promise<void>;
    /** Names the subscription the action was about, when the path does not (a Cloudesire call's). */
    auditAbout: (subscriptionId: string) => void;
  };
};

/** The problem title of an error answer (what the trail says went wrong), without reading the body away. */
async function titleOf(res: Response): Promise<string> {
  try {
    const body = (await res.clone().json()) as { title?: unknown };
    return typeof body.title === "string" ? body.title : "";
  } catch {
    return "";
  }
}

/**
 * The audit of an operator route (placed after its role check): one row per request, with who, the
 * action, the subscription of the path (if it is a valid id), and `ok` or the answer's status and
 * problem title. A refusal by the role check itself is not an action and is not recorded.
 */
export function auditing(store: AuditStore) {
  return (action: string): MiddlewareHandler<AuditEnv> => async (c, next) => {
    const who = c.get("operator");
    const id = c.req.param("id");
    const subscriptionId: string | null = id !== undefined && SubscriptionId.safeParse(id).success ? id : null;
    const entry = { operator: who.name, action, subscriptionId };
    c.set("auditAbout", (about) => {
      entry.subscriptionId = about;
    });
    let inTransaction = false;
    c.set("auditIn", async (tx, result = "ok") => {
      await store.record({ ...entry, result }, tx);
      inTransaction = true;
    });
    await next();
    const status = c.res.status;
    // Recorded with its change (a transaction that then failed took the row with it: the failure is recorded).
    if (status < 400 && inTransaction) return;
    await store.record({ ...entry, result: status < 400 ? "ok" : `${status} ${await titleOf(c.res)}`.trim() });
  };
}
export type Audited = ReturnType<typeof auditing>;

const AUDIT_PAGES = cursorsOf("audit", AuditKey);

/** `GET /v1/audit` (mounted at /v1): operators' actions and marketplaces' events, one trail. */
export function auditRoutes(deps: { store: AuditStore; requireRole: RequireRole }) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.openapi(
    createRoute({
      method: "get", path: "/audit", tags: ["operators"], security: OPERATOR, middleware: [deps.requireRole("viewer")],
      summary: "The audit trail: every operator action and every marketplace event, newest first",
      description: `Operators' actions (who, what, which subscription, ok or the refusal) and the marketplaces' events as stored (the generic webhook's, Cloudesire's notifications), merged, newest first; no pulumi CLI needed. ${PAGED}`,
      request: { query: AuditQuery },
      responses: { 200: json(AuditPage, "newest first", EXAMPLE_AUDIT), 401: UNAUTHORIZED, 403: FORBIDDEN, 422: problem(`since is not an ISO 8601 instant, subscription is not an id; ${PAGE_REFUSED}`) },
    }),
    async (c) => {
      const { limit, cursor, since, subscription } = c.req.valid("query");
      const filter = { since, subscription };
      const page = await deps.store.page({ since, subscription, limit, after: AUDIT_PAGES.decode(cursor, filter) });
      return c.json({ items: page.items, nextCursor: AUDIT_PAGES.next(page, filter) }, 200);
    },
  );
  return app;
}
