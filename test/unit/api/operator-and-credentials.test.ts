import { parse as parseYaml } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { CUSTOMER_TOKEN_KEY, harness, OPERATOR_TOKEN, WEBHOOK_SECRET } from "../../support/harness.js";

let h: Awaited<ReturnType<typeof harness>>;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.reconciler.stop();
});

async function provisioned(id = "42") {
  const res = await h.send(event(id, "subscription.created"));
  const { credentialsToken } = (await res.json()) as { credentialsToken: string };
  await h.reconciler.idle();
  return credentialsToken;
}

describe("operator endpoints", () => {
  it("refuse requests without the operator token (401), and with a customer token", async () => {
    const token = await provisioned();
    expect((await h.app.request("/v1/subscriptions")).status).toBe(401);
    expect((await h.app.request("/v1/subscriptions", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await h.app.request("/v1/subscriptions", { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    // Every operator route on one subscription, with the customer's own token: 401, before the path is looked at.
    for (const [method, path] of [["GET", "/v1/subscriptions/42"], ["POST", "/v1/subscriptions/42/preview"], ["GET", "/v1/subscriptions/42/history"],
      ["POST", "/v1/subscriptions/42/retry"], ["POST", "/v1/subscriptions/42/credentials-token"], ["POST", "/v1/subscriptions/42/drift/check"],
      ["POST", "/v1/subscriptions/42/drift/repair"], ["POST", "/v1/subscriptions/42/drift/accept"], ["GET", "/v1/subscriptions/..%2F/history"]] as const) {
      expect((await h.app.request(path, { method, headers: { authorization: `Bearer ${token}` } })).status, `${method} ${path}`).toBe(401);
    }
  });

  it("list and show a subscription with its phase, outputs and operations, without secrets", async () => {
    await provisioned();
    const list = (await (await h.asOperator("/v1/subscriptions")).json()) as { subscriptions: Array<{ id: string; phase: string }> };
    expect(list.subscriptions).toEqual([expect.objectContaining({ id: "42", phase: "ready", status: "active" })]);
    const show = (await (await h.asOperator("/v1/subscriptions/42")).json()) as Record<string, unknown>;
    expect(show).toMatchObject({ id: "42", stack: "sub-42", phase: "ready", outputs: { projectId: "project-of-sub-42", userName: "sub-42" } });
    expect(show.operations).toEqual([expect.objectContaining({ kind: "up", result: "succeeded" })]);
    expect(JSON.stringify(show)).not.toMatch(/password|token_hash|tokenHash/i);
  });

  it("filter the list by phase, and refuse an unknown phase with 422", async () => {
    await provisioned();
    expect(((await (await h.asOperator("/v1/subscriptions?phase=failed")).json()) as { subscriptions: unknown[] }).subscriptions).toEqual([]);
    expect((await h.asOperator("/v1/subscriptions?phase=bogus")).status).toBe(422);
  });

  it("an unknown subscription is a 404 problem", async () => {
    const res = await h.asOperator("/v1/subscriptions/nope");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect((await h.asOperator("/v1/subscriptions/..%2Fx")).status).toBe(404);
  });

  it("preview shows what an update would change; history lists updates named after their events", async () => {
    await provisioned();
    const preview = (await (await h.asOperator("/v1/subscriptions/42/preview", { method: "POST" })).json()) as { changeSummary: Record<string, number> };
    expect(preview.changeSummary).toEqual({ same: 6 });
    const history = (await (await h.asOperator("/v1/subscriptions/42/history")).json()) as { history: Array<{ message: string; result: string }> };
    expect(history.history).toHaveLength(1);
    expect(history.history[0]?.message).toMatch(/^evt-\d+ subscription\.created/);
  });

  it("retry re-applies a failed subscription", async () => {
    const { EngineFailure } = await import("../../../src/provisioning/engine.js");
    h.engine.failNext(new EngineFailure("role member not found", false));
    await h.send(event("42", "subscription.created"));
    await h.reconciler.idle();
    expect(await (await h.asOperator("/v1/subscriptions/42")).json()).toMatchObject({ phase: "failed", lastError: "role member not found" });
    expect((await h.asOperator("/v1/subscriptions/42/retry", { method: "POST" })).status).toBe(202);
    await h.reconciler.idle();
    expect(await (await h.asOperator("/v1/subscriptions/42")).json()).toMatchObject({ phase: "ready", lastError: null });
  });
});

describe("customer credentials", () => {
  it("the subscription's token gets working credentials in json, clouds.yaml and openrc", async () => {
    const token = await provisioned();
    const auth = { authorization: `Bearer ${token}` };
    const json = (await (await h.app.request("/v1/subscriptions/42/credentials", { headers: auth })).json()) as Record<string, unknown>;
    expect(json).toMatchObject({ username: "sub-42", projectId: "project-of-sub-42", authUrl: "http://127.0.0.1:5000/v3" });
    expect(String(json.password).length).toBeGreaterThan(8);

    const yamlRes = await h.app.request("/v1/subscriptions/42/credentials?format=clouds.yaml", { headers: auth });
    expect(yamlRes.headers.get("cache-control")).toBe("no-store");
    const clouds = parseYaml(await yamlRes.text()) as { clouds: Record<string, { auth: Record<string, string> }> };
    expect(clouds.clouds["sub-42"]?.auth).toMatchObject({ username: "sub-42", password: json.password, project_id: "project-of-sub-42" });

    const openrc = await (await h.app.request("/v1/subscriptions/42/credentials?format=openrc", { headers: auth })).text();
    expect(openrc).toContain(`export OS_PASSWORD='${String(json.password)}'`);
    expect((await h.app.request("/v1/subscriptions/42/credentials?format=xml", { headers: auth })).status).toBe(422);
  });

  it("one subscription's token cannot read another's credentials", async () => {
    const tokenA = await provisioned("a1");
    await provisioned("b2");
    const res = await h.app.request("/v1/subscriptions/b2/credentials", { headers: { authorization: `Bearer ${tokenA}` } });
    expect(res.status).toBe(401);
    expect((await h.app.request("/v1/subscriptions/zz/credentials", { headers: { authorization: `Bearer ${tokenA}` } })).status).toBe(401);
  });

  it("the operator can read credentials and rotate the customer's token (the old one stops working)", async () => {
    const old = await provisioned();
    expect((await h.asOperator("/v1/subscriptions/42/credentials")).status).toBe(200);
    const rotated = (await (await h.asOperator("/v1/subscriptions/42/credentials-token", { method: "POST" })).json()) as { credentialsToken: string };
    expect((await h.app.request("/v1/subscriptions/42/credentials", { headers: { authorization: `Bearer ${old}` } })).status).toBe(401);
    expect((await h.app.request("/v1/subscriptions/42/credentials", { headers: { authorization: `Bearer ${rotated.credentialsToken}` } })).status).toBe(200);
  });

  const credentialsWith = (token: string | undefined, id = "42") =>
    h.app.request(`/v1/subscriptions/${id}/credentials`, { headers: { authorization: `Bearer ${token ?? "none"}` } });

  it("a redelivered creating event (its 202 lost) gets the same token, and it works", async () => {
    const created = event("42", "subscription.created");
    const first = (await (await h.send(created)).json()) as { credentialsToken: string };
    await h.reconciler.idle();
    // The marketplace never saw that answer (timeout, or a crash between commit and answer) and sends the event again.
    const again = await h.send(created);
    expect(again.status).toBe(200);
    const body = (await again.json()) as { status: string; credentialsToken?: string };
    expect(body.status).toBe("duplicate");
    expect(body.credentialsToken).toBe(first.credentialsToken);
    expect((await credentialsWith(body.credentialsToken)).status).toBe(200);
    // Other events of the subscription never carry it.
    const modified = (await (await h.send(event("42", "subscription.modified"))).json()) as Record<string, unknown>;
    expect(modified).not.toHaveProperty("credentialsToken");
  });

  it("a created event that arrives after another event created the subscription still hands back the working token", async () => {
    // Delivered out of order: the modification created the subscription (its answer carried the token).
    expect((await h.send(event("42", "subscription.modified", { at: "2026-11-02T00:00:00Z" }))).status).toBe(202);
    const late = await h.send(event("42", "subscription.created", { at: "2026-11-01T00:00:00Z" }));
    expect(late.status).toBe(202);
    const body = (await late.json()) as { credentialsToken?: string };
    await h.reconciler.idle();
    expect((await credentialsWith(body.credentialsToken)).status).toBe(200);
    // The same when it comes after a newer status (then it changes nothing: stale).
    expect((await h.send(event("43", "subscription.suspended", { at: "2026-11-02T00:00:00Z" }))).status).toBe(202);
    const stale = await h.send(event("43", "subscription.created", { at: "2026-11-01T00:00:00Z" }));
    expect(await stale.json()).toMatchObject({ status: "stale", credentialsToken: expect.stringMatching(/^ct_/) });
    await h.reconciler.idle();
  });

  it("after an operator re-issues the token only the newest works; a replay of the creating event gets no token, a new creating event the newest", async () => {
    const created = event("42", "subscription.created");
    const first = ((await (await h.send(created)).json()) as { credentialsToken: string }).credentialsToken;
    await h.reconciler.idle();
    const second = ((await (await h.asOperator("/v1/subscriptions/42/credentials-token", { method: "POST" })).json()) as { credentialsToken: string }).credentialsToken;
    const third = ((await (await h.asOperator("/v1/subscriptions/42/credentials-token", { method: "POST" })).json()) as { credentialsToken: string }).credentialsToken;
    expect(new Set([first, second, third]).size).toBe(3);
    expect((await credentialsWith(first)).status).toBe(401);
    expect((await credentialsWith(second)).status).toBe(401);
    expect((await credentialsWith(third)).status).toBe(200);
    // The same bytes again inside the replay window (a captured request): nothing newer than its first answer.
    const replay = await h.send(created);
    expect(replay.status).toBe(200);
    expect(await replay.json()).not.toHaveProperty("credentialsToken");
    // A creating event the marketplace sends now (its own id) gets the token that works.
    const fresh = (await (await h.send(event("42", "subscription.created"))).json()) as { credentialsToken?: string };
    expect(fresh.credentialsToken).toBe(third);
  });

  it("the database holds no token and nothing a token could be recomputed from", async () => {
    const token = await provisioned();
    const dump = JSON.stringify(await h.db.query("SELECT * FROM subscriptions")) + JSON.stringify(await h.db.query("SELECT * FROM events"));
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(token.slice(3));
    expect(dump).not.toContain(CUSTOMER_TOKEN_KEY);
  });

  it("before the tenant exists the answer is 409 with what to do, never a 5xx", async () => {
    const res = await h.send(event("42", "subscription.created"));
    const { credentialsToken } = (await res.json()) as { credentialsToken: string };
    const release = h.engine.block("sub-42");
    const early = await h.app.request("/v1/subscriptions/42/credentials", { headers: { authorization: `Bearer ${credentialsToken}` } });
    expect(early.status).toBe(409);
    release();
    await h.reconciler.idle();
  });

  it("tokens, passwords and the webhook secret never reach the logs", async () => {
    const token = await provisioned();
    const creds = (await (await h.app.request("/v1/subscriptions/42/credentials", { headers: { authorization: `Bearer ${token}` } })).json()) as { password: string };
    await h.asOperator("/v1/subscriptions/42");
    const all = h.logs.join("\n");
    expect(h.logs.length).toBeGreaterThan(3);
    for (const secret of [token, creds.password, OPERATOR_TOKEN, WEBHOOK_SECRET]) expect(all).not.toContain(secret);
  });
});
