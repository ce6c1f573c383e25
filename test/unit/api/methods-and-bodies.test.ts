import { describe, expect, it } from "vitest";
import { harness } from "../../support/harness.js";

type Doc = { paths: Record<string, Record<string, { security?: Array<Record<string, unknown>>; requestBody?: { content: Record<string, unknown> }; parameters?: Array<{ in: string }>; responses: Record<string, unknown> }>> };

describe("what the fuzzer taught (issue 24 §6)", () => {
  it("a method a path is not served with is a 405 naming the ones it is, the most specific route deciding", async () => {
    const h = await harness();
    const put = await h.app.request("/healthz", { method: "PUT" });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD");
    expect(((await put.json()) as { title: string }).title).toBe("PUT is not allowed on /healthz: GET, HEAD");
    // `/v1/rollouts/plan` is a route of its own (POST), not the rollout `:id` of GET /v1/rollouts/:id.
    const plan = await h.asOperator("/v1/rollouts/plan");
    expect(plan.status).toBe(405);
    expect(plan.headers.get("allow")).toBe("POST");
    expect((await h.asOperator("/v1/rollouts/7")).status).toBe(404);
    expect((await h.app.request("/no/such/path", { method: "PUT" })).status).toBe(404);
  });

  it("Cloudesire's order validation refuses a request without a JSON body instead of reading it as an empty order", async () => {
    const h = await harness();
    const res = await h.app.request("/v1/cloudesire/order-validation", { method: "POST" });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { title: string }).title).toMatch(/JSON body is required/);
  });

  it("the OpenAPI document says every route checking a token may answer 429, and every route reading a body 415 and 422 (and 400 for malformed JSON)", async () => {
    const h = await harness();
    const doc = (await (await h.app.request("/openapi.json")).json()) as Doc;
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const codes = Object.keys(op.responses);
        const need = [
          ...((op.security ?? []).some((s) => Object.keys(s).length > 0) ? ["429"] : []),
          ...(op.requestBody ? ["415", "422"] : []),
          ...(Object.keys(op.requestBody?.content ?? {}).some((m) => m.includes("json")) ? ["400"] : []),
          ...((op.parameters ?? []).some((p) => p.in === "query" || p.in === "header") ? ["422"] : []),
        ];
        for (const code of need) if (!codes.includes(code)) missing.push(`${method} ${path}: ${code}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("a rollout's waves are documented as percentages, the comma string ending at 100%", async () => {
    const h = await harness();
    const doc = JSON.stringify(await (await h.app.request("/openapi.json")).json());
    expect(doc).toContain(String.raw`"pattern":"^\\s*((100(\\.0+)?|[1-9]\\d?(\\.\\d+)?|0\\.\\d*[1-9]\\d*)%\\s*,\\s*){0,9}100(\\.0+)?%\\s*$"`);
  });
});
