import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestIsHttps } from "../../../src/api/client-address.js";
import { event } from "../../support/events.js";
import { harness, harnessWith, OPERATOR_TOKEN } from "../../support/harness.js";
import { addOperator, titleOf } from "../../support/operators.js";

/**
 * The console's session (issue 23): an operator token in, an HttpOnly SameSite=Strict cookie and a CSRF
 * token out; the cookie opens the operator routes, unsafe ones only with the CSRF token; sessions
 * survive a restart, end after 12 h idle, at logout, and when their operator is revoked.
 */
let clock = Date.parse("2026-12-01T08:00:00Z");
let h: Awaited<ReturnType<typeof harness>>;
let aliceToken: string;

beforeAll(async () => {
  h = await harness({ now: () => clock, authFailureLimit: { perSecond: 0.001, burst: 20 }, secure: requestIsHttps({ kind: "hops", hops: 1 }) });
  // Signed at the service's clock (the replay window is checked against it).
  expect((await h.send(event("42", "subscription.created"), { timestamp: Math.floor(clock / 1000) })).status).toBe(202);
  await h.reconciler.idle();
  aliceToken = await addOperator(h, "alice", "operator");
});
afterAll(async () => {
  await h.close();
});

type Session = { name: string; role: string; csrf: string };
const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({ method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });

/** Logs in; the cookie as a browser would send it back, and the session's body. */
async function login(token: string, headers: Record<string, string> = {}) {
  const res = await h.app.request("/v1/session", json({ token }, headers));
  expect(res.status).toBe(200);
  const setCookie = res.headers.get("set-cookie") ?? "";
  return { setCookie, cookie: setCookie.split(";")[0] as string, session: (await res.json()) as Session };
}
const withCookie = (cookie: string, init: RequestInit = {}) => ({ ...init, headers: { ...(init.headers as Record<string, string>), cookie } });

describe("console session", () => {
  it("login answers who and the CSRF token, with an HttpOnly, SameSite=Strict cookie, Secure only over https", async () => {
    const { setCookie, session } = await login(aliceToken);
    expect(session).toEqual({ name: "alice", role: "operator", csrf: expect.any(String) });
    expect(setCookie).toMatch(/^tenants_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/Secure/);
    const behindTls = await login(aliceToken, { "x-forwarded-proto": "https" });
    expect(behindTls.setCookie).toMatch(/; Secure/);
    // root logs in with OPERATOR_TOKEN.
    expect((await login(OPERATOR_TOKEN)).session).toMatchObject({ name: "root", role: "admin" });
    // Only the session id's hash is stored.
    expect(JSON.stringify(await h.db.query("SELECT * FROM operator_sessions"))).not.toContain(behindTls.cookie.split("=")[1]);
  });

  it("a wrong token is 401 and counts toward the failed-authentication budget", async () => {
    for (let i = 0; i < 20; i++) expect((await h.app.request("/v1/session", json({ token: `op_wrong${i}` }, { "x-test-source": "guesser" }))).status).toBe(401);
    expect((await h.app.request("/v1/session", json({ token: aliceToken }, { "x-test-source": "guesser" }))).status).toBe(429);
    expect((await h.app.request("/v1/session", json({ nope: 1 }))).status).toBe(422);
  });

  it("the cookie opens operator routes; unsafe ones need X-CSRF-Token, bearer requests do not", async () => {
    const { cookie, session } = await login(aliceToken);
    expect((await h.app.request("/v1/subscriptions", withCookie(cookie))).status).toBe(200);
    expect(await (await h.app.request("/v1/session", withCookie(cookie))).json()).toEqual(session);
    const missing = await h.app.request("/v1/subscriptions/42/retry", withCookie(cookie, { method: "POST" }));
    expect(missing.status).toBe(403);
    expect(await titleOf(missing)).toContain("missing or wrong X-CSRF-Token");
    const wrong = await h.app.request("/v1/subscriptions/42/retry", withCookie(cookie, { method: "POST", headers: { "x-csrf-token": "guess" } }));
    expect(wrong.status).toBe(403);
    const ok = await h.app.request("/v1/subscriptions/42/retry", withCookie(cookie, { method: "POST", headers: { "x-csrf-token": session.csrf } }));
    expect(ok.status, await ok.clone().text()).toBe(202);
    expect((await h.app.request("/v1/subscriptions/42/retry", { method: "POST", headers: { authorization: `Bearer ${aliceToken}` } })).status).toBe(202);
    await h.reconciler.idle();
    // The role still applies: alice is an operator.
    const billing = await h.app.request("/v1/operators", withCookie(cookie, { ...json({ name: "x", role: "viewer" }), headers: { "content-type": "application/json", cookie, "x-csrf-token": session.csrf } }));
    expect(billing.status).toBe(403);
    expect(await titleOf(billing)).toBe("needs the admin role; alice is an operator");
  });

  it("logout ends the session and clears the cookie; without a session GET is 401", async () => {
    const { cookie, session } = await login(aliceToken);
    expect((await h.app.request("/v1/session", withCookie(cookie, { method: "DELETE" }))).status).toBe(403);
    const out = await h.app.request("/v1/session", withCookie(cookie, { method: "DELETE", headers: { "x-csrf-token": session.csrf } }));
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^tenants_session=; Max-Age=0;.*HttpOnly/);
    expect((await h.app.request("/v1/session", withCookie(cookie))).status).toBe(401);
    expect((await h.app.request("/v1/subscriptions", withCookie(cookie))).status).toBe(401);
    expect((await h.app.request("/v1/session")).status).toBe(401);
  });

  it("/healthz shows its details to a session, and only the status to an ended one (no failed authentication)", async () => {
    const { cookie, session } = await login(aliceToken);
    expect(await (await h.app.request("/healthz", withCookie(cookie))).json()).toHaveProperty("missing");
    await h.app.request("/v1/session", withCookie(cookie, { method: "DELETE", headers: { "x-csrf-token": session.csrf } }));
    const ended = await h.app.request("/healthz", withCookie(cookie));
    expect(ended.status).toBe(200);
    expect(await ended.json()).toEqual({ status: "degraded" });
  });

  it("a session ends after 12 hours without a request; each request keeps it open", async () => {
    const { cookie } = await login(aliceToken);
    clock += 11 * 3600_000;
    expect((await h.app.request("/v1/subscriptions", withCookie(cookie))).status).toBe(200);
    clock += 11 * 3600_000;
    expect((await h.app.request("/v1/session", withCookie(cookie))).status).toBe(200);
    clock += 12 * 3600_000 + 1000;
    expect((await h.app.request("/v1/session", withCookie(cookie))).status).toBe(401);
    expect((await h.app.request("/v1/subscriptions", withCookie(cookie))).status).toBe(401);
  });

  it("revoking an operator ends its sessions at once", async () => {
    const bobToken = await addOperator(h, "bob", "viewer");
    const { cookie } = await login(bobToken);
    expect((await h.app.request("/v1/subscriptions", withCookie(cookie))).status).toBe(200);
    expect((await h.asOperator("/v1/operators/bob", { method: "DELETE" })).status).toBe(200);
    expect((await h.app.request("/v1/subscriptions", withCookie(cookie))).status).toBe(401);
    expect((await h.app.request("/v1/session", json({ token: bobToken }))).status).toBe(401);
  });

  it("a session survives a restart of the service (it is kept in the database)", async () => {
    const { cookie } = await login(aliceToken);
    const restarted = await harnessWith(h.engine, { replicaOf: { db: h.db, pollMs: 60_000 }, now: () => clock });
    try {
      expect(await (await restarted.app.request("/v1/session", withCookie(cookie))).json()).toMatchObject({ name: "alice", role: "operator" });
    } finally {
      await restarted.close();
    }
  });
});
