import { describe, expect, it } from "vitest";
import { harness, OPERATOR_TOKEN } from "../../support/harness.js";

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("/healthz and /metrics: what a stranger may see", () => {
  it("without a token /healthz says only its status; the details (cloud, database, what is missing) need the operator token", async () => {
    const h = await harness();
    const open = await h.app.request("/healthz");
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ status: "degraded" });
    const detailed = await h.app.request("/healthz", bearer(OPERATOR_TOKEN));
    expect(await detailed.json()).toMatchObject({ status: "degraded", ready: false, missing: ["the pulumi CLI is not on PATH"], openstack: { authUrl: "http://admin.example:5000/v3" } });
    expect((await h.app.request("/healthz", bearer("not-the-operator-token"))).status).toBe(401);
  });

  it("with METRICS_TOKEN set, /metrics needs it (or the operator token) as a bearer token", async () => {
    const metricsToken = "metrics-token-0123456789abcdef";
    const h = await harness({ metricsToken });
    expect((await h.app.request("/metrics")).status).toBe(401);
    expect((await h.app.request("/metrics", bearer("wrong-token-0123456789"))).status).toBe(401);
    const scraped = await h.app.request("/metrics", bearer(metricsToken));
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("tenants_events_received_total");
    expect((await h.app.request("/metrics", bearer(OPERATOR_TOKEN))).status).toBe(200);
  });

  it("without METRICS_TOKEN, /metrics stays open (for a scraper on a private network)", async () => {
    const h = await harness();
    expect((await h.app.request("/metrics")).status).toBe(200);
  });
});
