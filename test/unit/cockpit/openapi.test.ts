import type { z } from "zod";
import { describe, expect, it } from "vitest";
import { harness } from "../../support/harness.js";
import { PRICES } from "../../support/prices.js";

type Doc = { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>; components: { securitySchemes: Record<string, unknown> } };

/** Billing routes mounted; Gnocchi is never reached by these tests. */
const full = () => harness({ billing: { gnocchi: () => { throw new Error("Gnocchi is not used here"); }, prices: PRICES } });

describe("OpenAPI 3.1 from the zod schemas", () => {
  it("is served at /openapi.json and lists every route the app serves (docs and console pages aside)", async () => {
    const h = await full();
    const res = await h.app.request("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Doc;
    expect(doc.openapi).toBe("3.1.0");
    const served = h.app.routes
      .filter((r) => r.method !== "ALL" && !r.path.startsWith("/docs") && !r.path.startsWith("/console") && r.path !== "/openapi.json")
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)/g, "{$1}")}`);
    // Every route registered through app.openapi() plus the ones mounted from sub-apps.
    expect(served.length).toBeGreaterThanOrEqual(20);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    for (const route of new Set(served)) expect(documented, `${route} is not in the spec`).toContain(route);
    expect(new Set(documented)).toEqual(new Set(served));
  });

  it("every documented example validates against the schema it illustrates", async () => {
    const h = await full();
    let checked = 0;
    for (const def of h.app.openAPIRegistry.definitions) {
      if (def.type !== "route") continue;
      const contents = [
        ...Object.values(def.route.request?.body && "content" in def.route.request.body ? def.route.request.body.content : {}),
        ...Object.values(def.route.responses).flatMap((r) => Object.values(("content" in r && r.content) || {})),
      ] as Array<{ schema?: z.ZodType; example?: unknown }>;
      for (const c of contents) {
        if (c.example === undefined || !c.schema || typeof (c.schema as { safeParse?: unknown }).safeParse !== "function") continue;
        const parsed = c.schema.safeParse(c.example);
        expect(parsed.success, `${def.route.method} ${def.route.path}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it("operator routes declare the operator bearer scheme; the webhook documents its signature headers", async () => {
    const h = await full();
    const doc = (await (await h.app.request("/openapi.json")).json()) as Doc & { paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>> };
    expect(doc.components.securitySchemes.operatorToken).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.paths["/v1/subscriptions"]?.get?.security).toEqual([{ operatorToken: [] }]);
    expect(doc.paths["/v1/billing-runs"]?.post?.security).toEqual([{ operatorToken: [] }]);
    for (const path of ["/v1/subscriptions/{id}/history", "/v1/subscriptions/{id}/drift/repair"]) {
      const op = Object.values(doc.paths[path] ?? {})[0];
      expect(op?.security, path).toEqual([{ operatorToken: [] }]);
      expect(Object.keys(op?.responses ?? {}), path).toEqual(expect.arrayContaining(["401", "404"]));
    }
    const names = (doc.paths["/v1/events"]?.post?.parameters ?? []).map((p) => `${p.in}:${p.name}`);
    expect(names).toEqual(expect.arrayContaining(["header:x-timestamp", "header:x-signature"]));
  });

  it("a billing run documents its totals per target: target, currency, invoice count and the total as a decimal string", async () => {
    const h = await full();
    type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; required?: string[]; pattern?: string; $ref?: string };
    const doc = (await (await h.app.request("/openapi.json")).json()) as { components: { schemas: Record<string, Schema> } };
    const run = doc.components.schemas.BillingRun;
    expect(run?.required).toContain("targetTotals");
    // nullable: a run stored before totals per target were kept has none.
    const list = run?.properties?.targetTotals;
    expect(JSON.stringify(list)).toContain("null");
    const item = doc.components.schemas.TargetTotal;
    expect(item?.required).toEqual(expect.arrayContaining(["target", "currency", "invoiceCount", "total"]));
    expect(item?.properties?.total).toMatchObject({ type: "string", pattern: expect.stringContaining("\\d") });
    expect(item?.properties?.invoiceCount).toMatchObject({ type: "integer" });
  });

  it("every operator route documents its refusals: 401 for unknown credentials, 403 for a role that does not allow it", async () => {
    const h = await full();
    const doc = (await (await h.app.request("/openapi.json")).json()) as Doc;
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!JSON.stringify(op.security ?? []).includes("operatorToken") || path === "/healthz" || path === "/metrics" || path.endsWith("/credentials")) continue;
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(["401", "403"]));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(30);
  });

  it("every list endpoint documents limit and cursor, answers nextCursor, and its 422", async () => {
    const h = await full();
    type Op = { parameters?: Array<{ name: string; in: string; schema?: { minimum?: number; maximum?: number; default?: number } }>; responses: Record<string, { content?: Record<string, { schema: { $ref?: string; properties?: Record<string, unknown> } }> }> };
    const doc = (await (await h.app.request("/openapi.json")).json()) as { paths: Record<string, { get?: Op }> };
    const lists = { "/v1/subscriptions": ["phase", "status", "search", "target"], "/v1/drift": ["state"], "/v1/billing-runs": [], "/v1/dead-letters": [], "/v1/cloudesire/dead-letters": [] };
    for (const [path, filters] of Object.entries(lists)) {
      const op = doc.paths[path]?.get;
      const params = op?.parameters ?? [];
      expect(params.map((p) => `${p.in}:${p.name}`).sort(), path).toEqual(["limit", "cursor", ...filters].map((n) => `query:${n}`).sort());
      expect(params.find((p) => p.name === "limit")?.schema, path).toMatchObject({ minimum: 1, maximum: 1000, default: 100 });
      expect(Object.keys(op?.responses[200]?.content?.["application/json"]?.schema.properties ?? {}), path).toContain("nextCursor");
      expect(Object.keys(op?.responses ?? {}), path).toContain("422");
    }
  });

  it("/docs is an interactive reference that works offline (Swagger UI served from the package)", async () => {
    const h = await full();
    const page = await h.app.request("/docs");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="swagger-ui">');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await h.app.request("/docs/swagger-ui-bundle.js");
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(100_000);
    expect(await (await h.app.request("/docs/init.js")).text()).toContain('"/openapi.json"');
  });

  it("asset names that are Object.prototype members (/docs/constructor…) are 404s, never a 500", async () => {
    const h = await full();
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"]) {
      const res = await h.app.request(`/docs/${name}`);
      expect(res.status, name).toBe(404);
    }
    expect(h.logs.filter((l) => l.includes("unhandled error"))).toEqual([]);
  });
});
