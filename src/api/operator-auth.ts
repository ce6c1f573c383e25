import { createHmac, randomBytes } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { forbidden } from "../domain/errors.js";
import { ROOT_OPERATOR, roleAllows, roleRefusal, type OperatorIdentity, type Role } from "../domain/operator.js";
import type { OperatorStore } from "../store/operator-store.js";
import { bearerOf, hashToken, sameSecret } from "./tokens.js";

/** What the role check puts on a request: who is calling (`c.get("operator")`). */
export type OperatorEnv = { Variables: { operator: OperatorIdentity } };

/** The console's session cookie (HttpOnly, SameSite=Strict, Path=/; Secure over https). */
export const SESSION_COOKIE = "tenants_session";
/** A session ends after this long without a request. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** The header a cookie-authenticated unsafe request carries: the session's CSRF token. */
export const CSRF_HEADER = "x-csrf-token";

/** A new operator token: shown once, only its hash is kept. */
export const newOperatorToken = () => `op_${randomBytes(32).toString("base64url")}`;
/** A new console session id: the cookie's value, only its hash is kept. */
export const newSessionId = () => randomBytes(32).toString("base64url");
/**
 * A session's CSRF token, derived from its id (nothing more to store, and the same value every time the
 * console asks): a page of another origin can neither read the HttpOnly cookie nor compute it.
 */
export const csrfOf = (sessionId: string) => createHmac("sha256", sessionId).update("tenants-csrf").digest("base64url");

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface OperatorAuthDeps {
  operators: OperatorStore;
  /** OPERATOR_TOKEN: the admin named root. */
  rootToken: string;
  now: () => number;
  authenticated: Authenticate;
}

/**
 * Finds who presented the request's credentials: what `find` found, or a 401 with `refusal`, counted
 * against the source's budget of failed authentications (429 once spent, even for right credentials).
 */
export type Authenticate = <T>(c: Context, find: () => Promise<T | null | undefined>, refusal: string) => Promise<T>;

/**
 * Who an operator request comes from: a bearer token (OPERATOR_TOKEN is root; named operators' tokens
 * by their hash) or the console's session cookie, whose unsafe requests must also carry the session's
 * CSRF token. Unknown credentials are 401 (counted as failed authentications); a known operator
 * lacking the role is 403 saying which role is needed.
 */
export function operatorAuth(deps: OperatorAuthDeps) {
  const rootHash = () => hashToken(deps.rootToken);
  const root: OperatorIdentity = { name: ROOT_OPERATOR, role: "admin" };

  /** The operator a token belongs to (root, or a named operator not revoked). */
  const byToken = async (token: string): Promise<OperatorIdentity | null> =>
    sameSecret(token, deps.rootToken) ? root : deps.operators.byTokenHash(hashToken(token));

  /** The session the request's cookie opens, and its use recorded. */
  const bySession = async (sessionId: string): Promise<OperatorIdentity | null> => {
    const now = deps.now();
    return deps.operators.useSession({ idHash: hashToken(sessionId), now, expiredBefore: now - SESSION_IDLE_MS, rootHash: rootHash(), rootName: ROOT_OPERATOR });
  };

  /**
   * The calling operator, whatever its role (401 without valid credentials). A cookie-authenticated unsafe
   * request without the session's CSRF token is 403: another site's page may have sent it.
   */
  const identify = async (c: Context): Promise<OperatorIdentity> => {
    const token = bearerOf(c.req.header("authorization"));
    const sessionId = token === undefined ? getCookie(c, SESSION_COOKIE) : undefined;
    const refusal = token !== undefined ? "operator bearer token not valid (unknown or revoked)"
      : sessionId !== undefined ? "the console session has ended (expired, logged out or revoked): log in again"
      : "operator bearer token (or console session) required";
    const who = await deps.authenticated(c, async () => (token !== undefined ? byToken(token) : sessionId !== undefined ? bySession(sessionId) : null), refusal);
    if (sessionId !== undefined && UNSAFE.has(c.req.method)) {
      const sent = c.req.header(CSRF_HEADER);
      if (!sent || !sameSecret(sent, csrfOf(sessionId))) throw forbidden("missing or wrong X-CSRF-Token (the console session's csrf value)");
    }
    return who;
  };

  /** The calling operator, if its role allows what needs `needs` (401, 403 otherwise). */
  const authorise = async (c: Context, needs: Role): Promise<OperatorIdentity> => {
    const who = await identify(c);
    if (!roleAllows(who.role, needs)) throw forbidden(roleRefusal(needs, who));
    return who;
  };

  /** The role check of an operator route: who is calling is then `c.get("operator")`. */
  const requireRole = (needs: Role): MiddlewareHandler<OperatorEnv> => async (c, next) => {
    c.set("operator", await authorise(c, needs));
    await next();
  };

  /**
   * Whether the credentials `c` came with still open anything now (a revoked token or an ended session:
   * no). For a long answer (an event stream) checking again as it goes; spends no failure budget.
   */
  const stillValid = async (c: Context): Promise<boolean> => {
    const token = bearerOf(c.req.header("authorization"));
    if (token !== undefined) return (await byToken(token)) !== null;
    const sessionId = getCookie(c, SESSION_COOKIE);
    return sessionId !== undefined && (await bySession(sessionId)) !== null;
  };

  return { requireRole, authorise, byToken, bySession, stillValid };
}

export type OperatorAuth = ReturnType<typeof operatorAuth>;
/** What routes are handed: the role check, as a middleware per role. */
export type RequireRole = OperatorAuth["requireRole"];
