import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../../src/console/api.js";
import { signNotification } from "../../../src/marketplaces/cloudesire/signature.js";
import { event } from "../../support/events.js";
import { CLOUDESIRE_EVENT_SECRET, harness } from "../../support/harness.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { PRICES } from "../../support/prices.js";

// Issue 31 §6: the lesser findings of the adversarial review, each as the operator meets it.
let h: Awaited<ReturnType<typeof harness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  vi.unstubAllGlobals();
});

type AuditPage = { items: Array<{ actor: string; action: string; subscriptionId: string | null }> };
const trail = async () => (await (await h!.asOperator("/v1/audit")).json()) as AuditPage;
const asJson = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the audit trail says who sent what", () => {
  it("an event made from a Cloudesire read is Cloudesire's, not the generic webhook's", async () => {
    h = await harness();
    await h.store.intake(event("6101", "subscription.created", { id: "cloudesire-6101-read-000000001" }), undefined, "cloudesire");
    await h.send(event("6102", "subscription.created"));
    const actors = Object.fromEntries((await trail()).items.map((i) => [i.subscriptionId, i.actor]));
    expect(actors).toMatchObject({ "6101": "marketplace:cloudesire", "6102": "marketplace:generic" });
  });

  it("a Cloudesire notification's free-text type never becomes an action as written", async () => {
    h = await harness();
    const raw = JSON.stringify({ entity: "Subscription", id: 6103, type: "operator.add by root" });
    const res = await h.app.request("/v1/cloudesire/events", { method: "POST", body: raw, headers: { "content-type": "application/json", "cmw-event-signature": signNotification(CLOUDESIRE_EVENT_SECRET, raw) } });
    expect(res.status).toBeLessThan(300);
    const actions = (await trail()).items.filter((i) => i.actor === "marketplace:cloudesire").map((i) => i.action);
    expect(actions).toEqual(["Subscription unrecognised type"]);
  });
});

describe("operator names in the trail", () => {
  it.each(["root.", "root-", "r.oot", "ro-ot"])("a new operator may not be named %s (it reads as root)", async (name) => {
    h = await harness();
    const res = await h.asOperator("/v1/operators", asJson({ name, role: "viewer" }));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { title: string }).title).toMatch(/reads as root/);
  });

  it("a name ends with a letter or digit and has no two separators in a row; ordinary names are taken", async () => {
    h = await harness();
    expect((await h.asOperator("/v1/operators", asJson({ name: "alice-", role: "viewer" }))).status).toBe(422);
    expect((await h.asOperator("/v1/operators", asJson({ name: "al..ice", role: "viewer" }))).status).toBe(422);
    expect((await h.asOperator("/v1/operators", asJson({ name: "alice.b-2", role: "viewer" }))).status).toBe(201);
  });
});

describe("billing periods", () => {
  it("period 0000-01 is refused with the rule (Date.UTC read it as 1900-01)", async () => {
    h = await harness({ billing: { gnocchi: () => constantGnocchi({}), prices: PRICES } });
    const res = await h.asOperator("/v1/billing-runs", asJson({ period: "0000-01" }));
    expect(res.status).toBe(422);
    expect(JSON.stringify(await res.json())).toMatch(/a month from 1970-01 on/);
  });
});

describe("the console shows what customers wrote, not what it does to the page", () => {
  it("bidirectional overrides and controls in API data are shown escaped, as tenantctl shows them", async () => {
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ name: "Ada \u202Egnp.exe\u202C Ltd", lines: ["a\u001b[2Jb"] }), { headers: { "content-type": "application/json" } }));
    expect(await api.get("/v1/anything")).toEqual({ name: "Ada \\u202egnp.exe\\u202c Ltd", lines: ["a\\u001b[2Jb"] });
  });
});
