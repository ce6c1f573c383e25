import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clientAddress } from "../../../src/api/client-address.js";
import { signWebhook } from "../../../src/domain/webhook-signature.js";
import { createLogger, makeRedactor } from "../../../src/log.js";
import { event } from "../../support/events.js";
import { harness, OPERATOR_TOKEN, WEBHOOK_SECRET } from "../../support/harness.js";

const PREVIOUS_SECRET = "whsec-previous-0123456789abcdef";
const METRICS_TOKEN = "metrics-token-0123456789abcdef";

type H = Awaited<ReturnType<typeof harness>>;

const count = async (h: H) => {
  const [row] = await h.db.query<{ e: number; s: number; o: number }>(
    "SELECT (SELECT count(*)::int FROM events) AS e, (SELECT count(*)::int FROM subscriptions) AS s, (SELECT count(*)::int FROM operations) AS o",
  );
  return row;
};

/** Every route the app serves, with its path parameters to fill. */
const routesOf = (h: H) =>
  h.app.routes.filter((r) => r.method !== "ALL").map((r) => ({ method: r.method, path: r.path }));

const segment = fc.oneof(
  fc.constantFrom("42", "1", "sub-42", "..", "%2e%2e", "0", "-1", "9".repeat(40), "%00", "a b", "ÿ", "<script>", "constructor", "__proto__", "toString", "hasOwnProperty", "init.js"),
  fc.string({ maxLength: 12 }),
);
const auth = fc.constantFrom<string | undefined>(
  undefined, `Bearer ${OPERATOR_TOKEN}`, "Bearer wrong", "Basic Zm9vOmJhcg==", "Bearer ", `bearer ${OPERATOR_TOKEN}x`, `Bearer ${METRICS_TOKEN}`, "Bearer ct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
);
/** X-Forwarded-For as proxies and clients write it, and as they should not. */
const forwardedFor = fc.option(
  fc.oneof(
    fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom("unknown", "", " ", "::ffff:10.0.0.1", "10.0.0.0/8")), { maxLength: 4 }).map((a) => a.join(", ")),
    fc.string({ maxLength: 40 }),
  ),
  { nil: undefined },
);
/** Bodies as bytes: a byte order mark in front, or bytes that are not UTF-8. */
const bytes = (text: string) =>
  fc.constantFrom<(t: string) => Body>(
    (t) => t,
    (t) => new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from(t)]),
    (t) => new Uint8Array([...Buffer.from(t), 0xc3]),
    (t) => new Uint8Array([0xff, ...Buffer.from(t)]),
  ).map((f) => f(text));
type Body = string | Uint8Array<ArrayBuffer>;
const body = fc.oneof(
  fc.constant(undefined),
  fc.json().map((j) => j),
  fc.string({ maxLength: 200 }),
  fc.anything().map((a) => { try { return JSON.stringify(a) ?? "null"; } catch { return "{}"; } }),
  // A real event with one field replaced by anything: reaches the schema, not just the JSON parser.
  fc.tuple(fc.constantFrom("id", "type", "occurredAt", "subscription", "plan", "customer"), fc.anything()).map(([k, v]) => {
    const e = event("fz", "subscription.created") as unknown as Record<string, Record<string, unknown>>;
    if (k === "plan" || k === "customer") (e.subscription as Record<string, unknown>)[k] = v;
    else e[k] = v as Record<string, unknown>;
    try { return JSON.stringify(e) ?? "{}"; } catch { return "{}"; }
  }),
);

describe("fuzzing every endpoint (fast-check)", () => {
  it("bodies, headers and paths of every route: never a 5xx, never a stack trace, nothing stored for refused input", async () => {
    // Every optional guard on (limits high enough not to hide the routes behind 429s): proxies trusted,
    // a metrics token, a previous webhook secret in rotation.
    const h = await harness({
      trustProxy: { kind: "hops", hops: 1 }, metricsToken: METRICS_TOKEN, previousWebhookSecret: PREVIOUS_SECRET,
      webhookRateLimit: { perSecond: 1e6, burst: 1e6 }, authFailureLimit: { perSecond: 1e6, burst: 1e6 },
    });
    const routes = routesOf(h);
    expect(routes.length).toBeGreaterThan(20);
    const signing = fc.constantFrom<string | null>(null, WEBHOOK_SECRET, PREVIOUS_SECRET, "another-secret-0123456789");
    const timestamp = fc.oneof(fc.constant(0), fc.integer({ min: -400, max: 400 }), fc.constant(Number.NaN));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes), fc.array(segment, { minLength: 2, maxLength: 2 }), auth, body.chain((b) => (b === undefined ? fc.constant(undefined) : bytes(b))),
        fc.constantFrom("application/json", "text/plain", "", "application/x-www-form-urlencoded"), signing, timestamp, forwardedFor,
        async (route, [p1, p2], authorization, raw, type, secret, skew, xff) => {
        const path = route.path.replace(":id", encodeURIComponent(p1 ?? "")).replace(":op", encodeURIComponent(p2 ?? "")).replace(":asset", encodeURIComponent(p2 ?? ""));
        const headers: Record<string, string> = {};
        if (authorization) headers.authorization = authorization;
        if (type) headers["content-type"] = type;
        if (xff !== undefined) headers["x-forwarded-for"] = xff;
        if (secret && raw !== undefined) {
          const ts = Number.isNaN(skew) ? "not-a-time" : String(Math.floor(Date.now() / 1000) + skew);
          headers["x-timestamp"] = ts;
          headers["x-signature"] = signWebhook(secret, ts, raw);
        }
        const before = await count(h);
        const res = await h.app.request(path, { method: route.method, headers, ...(raw !== undefined && route.method !== "GET" ? { body: raw } : {}) });
        const text = await res.text();
        expect(res.status, `${route.method} ${path} → ${res.status} ${text.slice(0, 200)}`).toBeLessThan(500);
        expect(text).not.toMatch(/at .+\.(ts|js):\d+/); // no stack trace
        if (res.status >= 400) expect(await count(h)).toEqual(before);
      }),
      { numRuns: 400 },
    );
    await h.reconciler.idle();
  }, 120_000);

  it("the client address from any X-Forwarded-For is the peer or an address from the header, never anything else", () => {
    const trust = fc.oneof(
      fc.constant({ kind: "off" as const }),
      fc.integer({ min: 1, max: 5 }).map((hops) => ({ kind: "hops" as const, hops })),
      fc.constant({ kind: "addresses" as const, addresses: ["10.0.0.0/8", "fd00::/8", "192.0.2.1"] as string[] }),
    );
    fc.assert(
      fc.property(trust, fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant("unknown")), forwardedFor, (t, peer, xff) => {
        const got = clientAddress(t, peer, xff);
        const candidates = [peer, ...(xff ?? "").split(",").map((a) => a.trim())].map((a) => a.replace(/^::ffff:(?=\d+\.)/, ""));
        expect(candidates).toContain(got);
        if (t.kind === "off") expect(got).toBe(peer.replace(/^::ffff:(?=\d+\.)/, ""));
      }),
      { numRuns: 2000 },
    );
  });

  it("a known secret of any characters never reaches a log line, in the message, a field at any depth, or a key", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4, maxLength: 24, unit: "binary" }), fc.constantFrom("msg", "field", "deep", "key", "error"), (secret, where) => {
        const lines: string[] = [];
        const log = createLogger({ redact: makeRedactor([secret]), write: (l) => lines.push(l) });
        const around = `before ${secret} after`;
        if (where === "msg") log.info(around);
        if (where === "field") log.info("m", { note: around });
        if (where === "deep") log.info("m", { a: { b: { c: [{ d: around }] } } });
        if (where === "key") log.info("m", { [secret]: "v" });
        if (where === "error") log.error("m", { error: new Error(around) });
        const line = lines.join("\n");
        expect(line).not.toContain(secret);
        expect(line).not.toContain(JSON.stringify(secret).slice(1, -1));
      }),
      { numRuns: 300 },
    );
  });
});
