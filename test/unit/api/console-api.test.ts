import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";

/** The routes the operators' console reads and how it is served (issue 23): search, fleet counts, CSP (sessions: session.test.ts). */
let h: Awaited<ReturnType<typeof harness>>;

beforeAll(async () => {
  h = await harness();
  const customers = [
    { id: "c-1", name: "Acme 100% Cloud", email: "ops@acme.example" },
    { id: "c-2", name: "Beta Srl", email: "admin@beta.example" },
  ];
  h.engine.failNext(new EngineFailure("Quota exceeded for cores (HTTP 403)", false), "sub-s2");
  for (const [i, id] of ["s1", "s2", "s3"].entries()) {
    const e = event(id, "subscription.created");
    await h.send({ ...e, subscription: { ...e.subscription, customer: customers[i % 2] } });
  }
  await h.reconciler.idle();
});
afterAll(() => h.close());

const ids = async (query: string) => {
  const res = await h.asOperator(`/v1/subscriptions?${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { subscriptions: Array<{ id: string }> }).subscriptions.map((s) => s.id);
};

describe("what the console reads", () => {
  it("the subscriptions list finds a part of an id, or of a customer's id, name or email, in any case", async () => {
    expect(await ids("search=S2")).toEqual(["s2"]);
    expect(await ids("search=beta%20SRL")).toEqual(["s2"]);
    expect(await ids("search=acme.example")).toEqual(["s1", "s3"]);
    expect(await ids("search=c-1")).toEqual(["s1", "s3"]);
    // `%` and `_` are the characters searched for, not patterns.
    expect(await ids(`search=${encodeURIComponent("100%")}`)).toEqual(["s1", "s3"]);
    expect(await ids(`search=${encodeURIComponent("%")}`)).toEqual(["s1", "s3"]);
    expect(await ids("search=_")).toEqual([]);
    // With the other filters, and held across pages.
    expect(await ids("search=acme&phase=ready")).toEqual(["s1", "s3"]);
    const first = (await (await h.asOperator("/v1/subscriptions?search=acme&limit=1")).json()) as { nextCursor: string };
    expect(await ids(`search=acme&limit=1&cursor=${first.nextCursor}`)).toEqual(["s3"]);
    expect((await h.asOperator(`/v1/subscriptions?search=beta&limit=1&cursor=${first.nextCursor}`)).status).toBe(422);
  });

  it("GET /v1/fleet counts subscriptions per phase and dead letters; no outbox without Cloudesire", async () => {
    const res = await h.asOperator("/v1/fleet");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      total: 3, phases: { pending: 0, applying: 0, ready: 2, failed: 1, held: 0, waiting: 0, cancelled: 0 }, deadLetters: 1, drifted: 0, outbox: null, unreadable: [],
    });
    expect((await h.app.request("/v1/fleet")).status).toBe(401);
  });

  it("GET /v1/fleet shows the Cloudesire outbox when the service sells there", async () => {
    // Never started: nothing is read from (or sent to) this address.
    const selling = await harness({ cloudesire: { apiUrl: "http://127.0.0.1:9/api", token: "cd-token-0123456789", eventSecret: "cd-secret-0123456789" } });
    try {
      const res = await selling.asOperator("/v1/fleet");
      expect(((await res.json()) as { outbox: unknown }).outbox).toEqual({ waiting: 0, dead: 0, held: 0, oldestWaitingSeconds: 0 });
    } finally {
      await selling.close();
    }
  });
});

describe("the console's page", () => {
  it("is served with a strict Content-Security-Policy, no inline script or style, its script bundled from the sources", async () => {
    for (const path of ["/console", "/console/", "/console/console.js", "/console/console.css"]) {
      const res = await h.app.request(path);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      for (const d of ["script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) expect(csp, path).toContain(d);
      expect(csp, path).not.toContain("unsafe-inline");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
    const page = await (await h.app.request("/console")).text();
    expect(page).toContain('<script type="module" src="/console/console.js"></script>');
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).not.toMatch(/<style|style=/);
    const script = await h.app.request("/console/console.js");
    expect(script.headers.get("content-type")).toContain("text/javascript");
    // The API's schemas are types only: no zod, no server module in the browser's script.
    const js = await script.text();
    expect(js).not.toContain("zod");
    expect(js).toContain("/v1/subscriptions");
  });
});
