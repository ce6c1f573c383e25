import { randomBytes } from "node:crypto";
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { unauthorized } from "../domain/errors.js";
import { validationHook } from "./problem.js";
import { json, problem } from "./route-docs.js";
import { sameSecret } from "./tokens.js";

/**
 * TEMPORARY (issue 23, until the roles branch's named operators are merged): a browser session opened
 * with the operator token, as the auth contract of issue 23 says, with one operator (`root`, admin).
 * The roles branch replaces this file with sessions of named operators kept in the database.
 */

export const SESSION_COOKIE = "tenants_session";
export const CSRF_HEADER = "x-csrf-token";
/** A session lasts a working day; a new login after that. */
const SESSION_MS = 12 * 3600_000;

export const Role = z.enum(["viewer", "operator", "admin"]).openapi("Role");
export const SessionView = z.object({ name: z.string(), role: Role, csrf: z.string() }).openapi("Session");
export const SessionLogin = z.object({ token: z.string().min(1).max(512) }).strict().openapi("SessionLogin");

interface Session {
  name: string;
  role: z.infer<typeof Role>;
  csrf: string;
  expires: number;
}

/** Sessions in this process's memory: a restart logs everyone out (the roles branch stores them). */
export class Sessions {
  private readonly open = new Map<string, Session>();
  constructor(private readonly now: () => number) {}

  start(name: string, role: Session["role"]): { id: string; session: Session } {
    const id = randomBytes(32).toString("base64url");
    const session = { name, role, csrf: randomBytes(24).toString("base64url"), expires: this.now() + SESSION_MS };
    this.open.set(id, session);
    return { id, session };
  }

  of(c: Context): Session | undefined {
    const id = getCookie(c, SESSION_COOKIE);
    const found = id === undefined ? undefined : this.open.get(id);
    if (!found || found.expires <= this.now()) return undefined;
    return found;
  }

  end(c: Context): void {
    const id = getCookie(c, SESSION_COOKIE);
    if (id !== undefined) this.open.delete(id);
  }

  /**
   * Whether the request is a session's: the cookie names an open session, and a request that changes
   * something carries its CSRF token (SameSite=Strict already keeps other sites' requests cookieless;
   * the header is the second lock, as OWASP's CSRF cheat sheet advises).
   */
  authorises(c: Context): boolean {
    const s = this.of(c);
    if (!s) return false;
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const sent = c.req.header(CSRF_HEADER);
      if (sent === undefined || !sameSecret(sent, s.csrf)) throw new HTTPException(403, { message: "the session's X-CSRF-Token header is missing or wrong" });
    }
    return true;
  }
}

/** POST/GET/DELETE /v1/session (mounted at /v1). */
export function sessionRoutes(deps: { sessions: Sessions; operatorToken: string; authenticated: (c: Context, check: () => boolean, refusal: string) => Promise<void> }) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const view = (s: Session) => ({ name: s.name, role: s.role, csrf: s.csrf });
  app.openapi(
    createRoute({
      method: "post", path: "/session", tags: ["console"], summary: "Open a console session with an operator token (sets the tenants_session cookie)",
      request: { body: { required: true, content: { "application/json": { schema: SessionLogin } } } },
      responses: {
        200: json(SessionView, "the session: who, which role, and the CSRF token to send as X-CSRF-Token"),
        401: problem("not an operator token"),
        422: problem("body must be {\"token\": \"...\"}"),
        429: problem("too many failed authentications from this source"),
      },
    }),
    async (c) => {
      const { token } = c.req.valid("json");
      await deps.authenticated(c, () => sameSecret(token, deps.operatorToken), "not an operator token");
      const { id, session } = deps.sessions.start("root", "admin");
      setCookie(c, SESSION_COOKIE, id, { httpOnly: true, sameSite: "Strict", path: "/", maxAge: SESSION_MS / 1000 });
      return c.json(view(session), 200, { "cache-control": "no-store" });
    },
  );
  app.openapi(
    createRoute({
      method: "get", path: "/session", tags: ["console"], summary: "The console session of this cookie",
      responses: { 200: json(SessionView, "the session"), 401: problem("no session, or it ended") },
    }),
    async (c) => {
      const s = deps.sessions.of(c);
      if (!s) throw unauthorized("no session: log in with an operator token");
      return c.json(view(s), 200, { "cache-control": "no-store" });
    },
  );
  app.openapi(
    createRoute({
      method: "delete", path: "/session", tags: ["console"], summary: "Log out: the session ends",
      responses: { 204: { description: "ended (or there was none)" } },
    }),
    async (c) => {
      deps.sessions.end(c);
      deleteCookie(c, SESSION_COOKIE, { path: "/" });
      return c.body(null, 204);
    },
  );
  return app;
}
