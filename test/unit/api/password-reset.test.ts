import { afterEach, describe, expect, it } from "vitest";
import { passwordResetKey, resetFormKey } from "../../../src/domain/password-reset.js";
import { event } from "../../support/events.js";
import { CUSTOMER_TOKEN_KEY, harness } from "../../support/harness.js";

/**
 * Issue 31 §5: the customer's password-reset key was reusable, never expired, never throttled (120 wrong
 * guesses, no 429), its resets were not in the audit trail, the page could be framed, and a JSON POST was
 * told to send JSON on a form route.
 */
let h: Awaited<ReturnType<typeof harness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ID = "77";
const path = `/v1/subscriptions/${ID}/password-reset`;
const linkKey = (resetGeneration = 0) => passwordResetKey(CUSTOMER_TOKEN_KEY, { subscriptionId: ID, tokenGeneration: 1, resetGeneration });
const formKeyOf = async (res: Response) => /name="key" value="([^"]+)"/.exec(await res.text())?.[1] ?? "";
const post = (key: string, o: { source?: string } = {}) =>
  h!.app.request(path, { method: "POST", body: new URLSearchParams({ key }), headers: { "content-type": "application/x-www-form-urlencoded", ...(o.source ? { "x-test-source": o.source } : {}) } });

async function provisioned(o: Parameters<typeof harness>[0] = {}) {
  h = await harness(o);
  expect((await h.send(event(ID, "subscription.created"))).status).toBe(202);
  await h.reconciler.idle();
  return h;
}

describe("the customer's password reset", () => {
  it("one use per link: the form resets once, then neither it nor the link opens anything; the next link does", async () => {
    await provisioned();
    const form = await h!.app.request(`${path}?key=${linkKey()}`);
    expect(form.status).toBe(200);
    const key = await formKeyOf(form);
    expect(key).toMatch(/^pf_/);
    expect((await post(key)).status).toBe(202);
    await h!.reconciler.idle();
    expect((await post(key)).status).toBe(401);
    expect((await h!.app.request(`${path}?key=${linkKey()}`)).status).toBe(401);
    // The link is the form's way in, not a key that resets by itself.
    expect((await post(linkKey(1))).status).toBe(401);
    const next = await h!.app.request(`${path}?key=${linkKey(1)}`);
    expect(next.status).toBe(200);
    expect((await post(await formKeyOf(next))).status).toBe(202);
  });

  it("one form sent twice at once resets once", async () => {
    await provisioned();
    const key = await formKeyOf(await h!.app.request(`${path}?key=${linkKey()}`));
    const statuses = (await Promise.all([post(key), post(key)])).map((r) => r.status).sort();
    expect(statuses).toEqual([202, 401]);
    await h!.reconciler.idle();
    const rotations = h!.engine.callsFor("sub-77").filter((c) => c.op === "up");
    expect(rotations).toHaveLength(2); // the creation and one reset
  });

  it("the form's key expires", async () => {
    await provisioned();
    const expired = resetFormKey(CUSTOMER_TOKEN_KEY, { subscriptionId: ID, tokenGeneration: 1, resetGeneration: 0 }, Math.floor(Date.now() / 1000) - 1);
    const res = await post(expired);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { title: string }).title).toMatch(/not valid/);
  });

  it("wrong keys are throttled per source as operators' failed authentications are (429 with Retry-After); other sources are not", async () => {
    await provisioned({ authFailureLimit: { perSecond: 0.1, burst: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await h!.app.request(`${path}?key=pr_wrong${i}`, { headers: { "x-test-source": "10.9.9.9" } })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect((await post("pf_1_wrong", { source: "10.9.9.9" })).status).toBe(429);
    expect((await h!.app.request(`${path}?key=${linkKey()}`, { headers: { "x-test-source": "10.9.9.8" } })).status).toBe(200);
  });

  it("a reset is in the audit trail, by the customer", async () => {
    await provisioned();
    const key = await formKeyOf(await h!.app.request(`${path}?key=${linkKey()}`));
    expect((await post(key)).status).toBe(202);
    const trail = (await (await h!.asOperator(`/v1/audit?subscription=${ID}`)).json()) as { items: Array<{ actor: string; action: string; result: string }> };
    expect(trail.items).toContainEqual(expect.objectContaining({ actor: `customer:${ID}`, action: "subscription.password-reset", result: "ok" }));
  });

  it("the page may be framed by nobody and loads nothing; its answer too", async () => {
    await provisioned();
    const form = await h!.app.request(`${path}?key=${linkKey()}`);
    expect(form.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
    expect(form.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    expect(form.headers.get("x-frame-options")).toBe("DENY");
    const done = await post(await formKeyOf(form));
    expect(done.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
  });

  it("a JSON POST to the form route is told to send a form, not JSON", async () => {
    await provisioned();
    const res = await h!.app.request(path, { method: "POST", body: JSON.stringify({ key: "x" }), headers: { "content-type": "application/json" } });
    expect(res.status).toBe(415);
    const title = ((await res.json()) as { title: string }).title;
    expect(title).toMatch(/application\/x-www-form-urlencoded/);
    expect(title).not.toMatch(/send the body as application\/json/);
  });
});
