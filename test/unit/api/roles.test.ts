import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { event } from "../../support/events.js";
import { harness, OPERATOR_TOKEN } from "../../support/harness.js";
import { addOperator, titleOf, withToken } from "../../support/operators.js";
import { PRICES } from "../../support/prices.js";

/**
 * Named operators with roles (issue 23): a viewer reads, an operator also acts on tenants, an admin also
 * bills, resends dead letters and manages operators; every refusal of a known operator is a 403 that
 * says which role is needed. OPERATOR_TOKEN is the admin root, as before.
 */
let h: Awaited<ReturnType<typeof harness>>;
let viewer: ReturnType<typeof withToken>;
let operator: ReturnType<typeof withToken>;
let admin: ReturnType<typeof withToken>;

beforeAll(async () => {
  h = await harness({
    billing: { gnocchi: () => { throw new Error("Gnocchi is not used here"); }, prices: PRICES },
    authFailureLimit: { perSecond: 0.001, burst: 3 },
    metricsToken: "metrics-token-0123456789",
  });
  h.engine.failNext(new EngineFailure("role member not found", false));
  await h.send(event("42", "subscription.created"));
  await h.reconciler.idle();
  viewer = withToken(h, await addOperator(h, "vera", "viewer"));
  operator = withToken(h, await addOperator(h, "otto", "operator"));
  admin = withToken(h, await addOperator(h, "ada.admin", "admin"));
});
afterAll(async () => {
  await h.close();
});

const post = (body?: unknown): RequestInit => (body === undefined ? { method: "POST" } : { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });

describe("roles", () => {
  it("a viewer reads everything an operator route shows, and is refused an action with 403 naming the role it needs", async () => {
    for (const path of ["/v1/subscriptions", "/v1/subscriptions/42", "/v1/subscriptions/42/history", "/v1/dead-letters", "/v1/drift", "/v1/rollouts", "/v1/billing-runs", "/v1/audit", "/v1/doctor", "/v1/cloudesire/dead-letters"]) {
      expect((await viewer(path)).status, path).toBe(200);
    }
    for (const path of ["/v1/subscriptions/42/retry", "/v1/subscriptions/42/rotate-password", "/v1/subscriptions/42/preview", "/v1/subscriptions/42/drift/repair", "/v1/rollouts", "/v1/rollouts/plan", "/v1/cloudesire/subscriptions/42/sync"]) {
      const res = await viewer(path, post());
      expect(res.status, path).toBe(403);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(await titleOf(res), path).toBe("needs the operator role; vera is a viewer");
    }
    // Refused before anything happened: the subscription is still failed, nothing queued.
    expect(await (await viewer("/v1/subscriptions/42")).json()).toMatchObject({ phase: "failed" });
  });

  it("an operator retries, but billing runs, dead-letter resends, token re-issues and operator management need an admin", async () => {
    expect((await operator("/v1/subscriptions/42/retry", post())).status).toBe(202);
    await h.reconciler.idle();
    expect(await (await operator("/v1/subscriptions/42")).json()).toMatchObject({ phase: "ready" });
    for (const [path, init] of [
      ["/v1/billing-runs", post({ period: "2026-10" })], ["/v1/billing-runs/1/deliver", post()], ["/v1/cloudesire/outbox/1/resolve", post({ action: "resend" })],
      ["/v1/subscriptions/42/credentials-token", post()], ["/v1/operators", post({ name: "eve", role: "admin" })], ["/v1/operators/vera", { method: "DELETE" }], ["/v1/operators", {}],
    ] as const) {
      const res = await operator(path, init);
      expect(res.status, path).toBe(403);
      expect(await titleOf(res), path).toBe("needs the admin role; otto is an operator");
    }
    // A customer's credentials are the customer's secret: an operator's token does not open them.
    const creds = await operator("/v1/subscriptions/42/credentials");
    expect(creds.status).toBe(403);
    expect(await titleOf(creds)).toBe("needs the admin role; otto is an operator");
  });

  it("an admin does what only admins do; root (OPERATOR_TOKEN) is an admin too", async () => {
    for (const who of [admin, withToken(h, OPERATOR_TOKEN)]) {
      expect((await who("/v1/operators")).status).toBe(200);
      expect((await who("/v1/subscriptions/42/credentials")).status).toBe(200);
      // Not found, not forbidden: the role allowed it.
      expect((await who("/v1/cloudesire/outbox/999/resolve", post({ action: "resend" }))).status).toBe(404);
      // The month is not over: refused by billing, past the role check.
      expect((await who("/v1/billing-runs", post({ period: "2999-01" }))).status).toBe(409);
    }
    const list = (await (await admin("/v1/operators")).json()) as { operators: Array<{ name: string; role: string }> };
    expect(list.operators.map((o) => `${o.name}:${o.role}`)).toEqual(["root:admin", "ada.admin:admin", "otto:operator", "vera:viewer"]);
  });

  it("/healthz details and /metrics take any operator's token, a viewer's included", async () => {
    const health = await viewer("/healthz");
    expect(await health.json()).toHaveProperty("missing");
    expect((await viewer("/metrics")).status).toBe(200);
    expect((await h.app.request("/metrics")).status).toBe(401);
  });
});

describe("operator management", () => {
  it("a token is shown once, stored only as its hash, and a revoked one is refused (401) at once", async () => {
    const res = await h.asOperator("/v1/operators", post({ name: "temp-1", role: "operator" }));
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { token, name, role, revokedAt } = (await res.json()) as { token: string; name: string; role: string; revokedAt: null };
    expect({ name, role, revokedAt }).toEqual({ name: "temp-1", role: "operator", revokedAt: null });
    expect(token).toMatch(/^op_[A-Za-z0-9_-]{43}$/);
    const stored = JSON.stringify(await h.db.query("SELECT * FROM operators"));
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(token.slice(3));
    const temp = withToken(h, token);
    expect((await temp("/v1/subscriptions")).status).toBe(200);
    expect((await h.asOperator("/v1/operators/temp-1", { method: "DELETE" })).status).toBe(200);
    const refused = await temp("/v1/subscriptions");
    expect(refused.status).toBe(401);
    // The list still names it, revoked (the audit trail's names stay unambiguous).
    const list = (await (await h.asOperator("/v1/operators")).json()) as { operators: Array<{ name: string; revokedAt: string | null }> };
    expect(list.operators.find((o) => o.name === "temp-1")?.revokedAt).toEqual(expect.any(String));
  });

  it("names are checked (422), never reused (409); root cannot be revoked, an unknown name is 404", async () => {
    for (const name of ["Alice", "a b", "-x", "x".repeat(65), "", "al/ice"]) {
      const res = await h.asOperator("/v1/operators", post({ name, role: "viewer" }));
      expect(res.status, name).toBe(422);
      expect(JSON.stringify(await res.json()), name).toContain("name");
    }
    expect((await h.asOperator("/v1/operators", post({ name: "zed", role: "superuser" }))).status).toBe(422);
    expect((await h.asOperator("/v1/operators", post({ name: "vera", role: "admin" }))).status).toBe(409);
    expect((await h.asOperator("/v1/operators", post({ name: "root", role: "admin" }))).status).toBe(409);
    expect((await h.asOperator("/v1/operators/root", { method: "DELETE" })).status).toBe(409);
    expect((await h.asOperator("/v1/operators/nobody", { method: "DELETE" })).status).toBe(404);
    expect((await withToken(h, OPERATOR_TOKEN)("/v1/subscriptions")).status).toBe(200);
  });

  it("unknown tokens are 401 and count toward the failed-authentication budget; a known operator's 403 does not", async () => {
    for (let i = 0; i < 5; i++) expect((await viewer("/v1/subscriptions/42/retry", { ...post(), headers: { "x-test-source": "viewer-host" } })).status).toBe(403);
    const guess = (n: number) => h.app.request("/v1/subscriptions", { headers: { authorization: `Bearer op_guess${n}`, "x-test-source": "guesser" } });
    for (let i = 0; i < 3; i++) expect((await guess(i)).status).toBe(401);
    expect((await guess(3)).status).toBe(429);
  });
});
