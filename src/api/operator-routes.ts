import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import { conflict, invalid, notFound } from "../domain/errors.js";
import { newOperatorNameProblem, ROOT_OPERATOR } from "../domain/operator.js";
import type { OperatorStore } from "../store/operator-store.js";
import type { AuditEnv, Audited } from "./audit-routes.js";
import { newOperatorToken, type RequireRole } from "./operator-auth.js";
import { Operator, OperatorCreate, OperatorCreated, OperatorList, OperatorParams } from "./operator-schemas.js";
import { validationHook } from "./problem.js";
import { FORBIDDEN, json, OPERATOR, problem, UNAUTHORIZED } from "./route-docs.js";
import { hashToken } from "./tokens.js";

const ROOT_VIEW = { name: ROOT_OPERATOR, role: "admin" as const, createdAt: null, revokedAt: null };

/** Operator management (mounted at /v1), admins only: list, add (the token shown once), revoke. */
export function operatorRoutes(deps: { operators: OperatorStore; requireRole: RequireRole; audited: Audited }) {
  const app = new OpenAPIHono<AuditEnv>({ defaultHook: validationHook });
  const middleware = [deps.requireRole("admin")];

  app.openapi(
    createRoute({
      method: "get", path: "/operators", tags: ["operators"], security: OPERATOR, middleware,
      summary: "The operators: root (OPERATOR_TOKEN) first, then the named ones, revoked ones included",
      responses: { 200: json(OperatorList, "by name", { operators: [ROOT_VIEW, { name: "alice", role: "operator", createdAt: "2026-12-01T10:00:00.000Z", revokedAt: null }] }), 401: UNAUTHORIZED, 403: FORBIDDEN },
    }),
    async (c) => c.json({ operators: [ROOT_VIEW, ...(await deps.operators.list())] }, 200),
  );

  app.openapi(
    createRoute({
      method: "post", path: "/operators", tags: ["operators"], security: OPERATOR, middleware: [...middleware, deps.audited("operator.add")],
      summary: "Add an operator with a role: its token is in this answer only (only its hash is kept)",
      request: { body: { required: true, content: { "application/json": { schema: OperatorCreate, example: { name: "alice", role: "operator" } } } } },
      responses: {
        201: json(OperatorCreated, "added (no-store)"), 401: UNAUTHORIZED, 403: FORBIDDEN,
        409: problem("the name is taken (by root, a current or a revoked operator: names are never reused, so the audit trail stays unambiguous)"),
        422: problem("name (lowercase letters, digits, dashes, dots; at most 64; ending with a letter or digit; not reading as root) or role not valid"),
      },
    }),
    async (c) => {
      const { name, role } = c.req.valid("json");
      if (name === ROOT_OPERATOR) throw conflict("root is OPERATOR_TOKEN's name: choose another");
      const problem = newOperatorNameProblem(name);
      if (problem) throw invalid(problem, [{ path: "name", message: problem }]);
      const token = newOperatorToken();
      const added = await deps.operators.add({ name, role, tokenHash: hashToken(token) }, c.get("auditIn"));
      if (!added) throw conflict(`an operator named ${name} exists or existed (names are never reused): choose another`);
      return c.json({ ...added, token }, 201, { "cache-control": "no-store" });
    },
  );

  app.openapi(
    createRoute({
      method: "delete", path: "/operators/{name}", tags: ["operators"], security: OPERATOR, middleware: [...middleware, deps.audited("operator.revoke")], request: { params: OperatorParams },
      summary: "Revoke an operator: its token and console sessions stop working now (root cannot be revoked: change OPERATOR_TOKEN)",
      responses: { 200: json(Operator, "revoked"), 401: UNAUTHORIZED, 403: FORBIDDEN, 404: problem("no such operator"), 409: problem("root cannot be revoked") },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      if (name === ROOT_OPERATOR) throw conflict("root cannot be revoked: it is OPERATOR_TOKEN (change the token and restart the service)");
      const revoked = await deps.operators.revoke(name, c.get("auditIn"));
      if (!revoked) throw notFound(`no operator named ${name}`);
      return c.json(revoked, 200);
    },
  );
  return app;
}
