import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { unauthorized } from "../domain/errors.js";
import type { OperatorStore } from "../store/operator-store.js";
import { csrfOf, newSessionId, SESSION_COOKIE, SESSION_IDLE_MS, type Authenticate, type OperatorAuth } from "./operator-auth.js";
import { Session, SessionLogin } from "./operator-schemas.js";
import { validationHook } from "./problem.js";
import { FORBIDDEN, json, problem } from "./route-docs.js";
import { hashToken } from "./tokens.js";

const TOO_MANY = problem("too many failed authentications from this source");

/**
 * The console's session (mounted at /v1): log in with an operator token, get an HttpOnly, SameSite=Strict
 * cookie and the session's CSRF token; every operator route then takes the cookie in place of the
 * bearer token (unsafe methods with the CSRF token as X-CSRF-Token). Sessions are kept hashed in the
 * database (a restart keeps them), end after 12 hours without a request, and with their operator.
 */
export function sessionRoutes(deps: {
  auth: OperatorAuth;
  operators: OperatorStore;
  now: () => number;
  /** Whether the request came over https (directly, or as a trusted proxy says): the cookie is then Secure. */
  secure: (c: Context) => boolean;
  authenticated: Authenticate;
}) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const cookie = (c: Context) => ({ httpOnly: true, sameSite: "Strict" as const, path: "/", ...(deps.secure(c) ? { secure: true } : {}) });

  app.openapi(
    createRoute({
      method: "post", path: "/session", tags: ["console"], summary: "Log in to the console with an operator token: a session cookie and its CSRF token",
      description: `Sets \`${SESSION_COOKIE}\` (HttpOnly; SameSite=Strict; Path=/; Secure over https). The answer's \`csrf\` goes as X-CSRF-Token with every unsafe request made with the cookie.`,
      request: { body: { required: true, content: { "application/json": { schema: SessionLogin, example: { token: "op_3q2-7wQ…" } } } } },
      responses: {
        200: json(Session, "logged in (no-store)", { name: "alice", role: "operator", csrf: "kq3…" }),
        401: problem("not an operator's token (or a revoked one)"), 422: problem("body must be {\"token\": \"...\"}"), 429: TOO_MANY,
      },
    }),
    async (c) => {
      const { token } = c.req.valid("json");
      const who = await deps.authenticated(c, () => deps.auth.byToken(token), "not an operator token (unknown or revoked)");
      const id = newSessionId();
      const now = deps.now();
      await deps.operators.openSession({ idHash: hashToken(id), tokenHash: hashToken(token), now, expiredBefore: now - SESSION_IDLE_MS });
      setCookie(c, SESSION_COOKIE, id, cookie(c));
      return c.json({ name: who.name, role: who.role, csrf: csrfOf(id) }, 200, { "cache-control": "no-store" });
    },
  );

  /** The session of the request's cookie, if it is still open. */
  const current = async (c: Context) => {
    const id = getCookie(c, SESSION_COOKIE);
    const who = id === undefined ? null : await deps.auth.bySession(id);
    return who && id !== undefined ? { id, who } : null;
  };

  app.openapi(
    createRoute({
      method: "get", path: "/session", tags: ["console"], summary: "Who the console's session is, and its CSRF token again",
      responses: { 200: json(Session, "the session (no-store)"), 401: problem("no session, or it has ended (expired, logged out, operator revoked)"), 429: TOO_MANY },
    }),
    async (c) => {
      // No cookie is no failed authentication (the console asks this before anyone logged in).
      if (getCookie(c, SESSION_COOKIE) === undefined) throw unauthorized("no console session: log in");
      const s = await deps.authenticated(c, () => current(c), "no console session (or it has ended): log in");
      return c.json({ name: s.who.name, role: s.who.role, csrf: csrfOf(s.id) }, 200, { "cache-control": "no-store" });
    },
  );

  app.openapi(
    createRoute({
      method: "delete", path: "/session", tags: ["console"], summary: "Log out: the session ends and its cookie is cleared",
      description: "With an open session, X-CSRF-Token must be sent (another site's page must not log an operator out). Without one: 204 all the same.",
      responses: { 204: { description: "logged out" }, 403: FORBIDDEN, 429: TOO_MANY },
    }),
    async (c) => {
      const s = await current(c);
      if (s) {
        // Checked like any unsafe request made with the cookie (403 without the CSRF token).
        await deps.auth.authorise(c, "viewer");
        await deps.operators.closeSession(hashToken(s.id));
      }
      deleteCookie(c, SESSION_COOKIE, cookie(c));
      return c.body(null, 204);
    },
  );
  return app;
}
