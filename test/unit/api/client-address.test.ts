import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { TrustProxy } from "../../../src/config.js";
import { clientAddress, requestIsHttps } from "../../../src/api/client-address.js";

describe("the client's address (for rate limits and auth throttling)", () => {
  it("is the socket's peer when no proxy is trusted, whatever X-Forwarded-For says", () => {
    expect(clientAddress({ kind: "off" }, "10.1.1.1", "6.6.6.6")).toBe("10.1.1.1");
    expect(clientAddress({ kind: "off" }, "::ffff:10.1.1.1", undefined)).toBe("10.1.1.1");
  });

  it("with N trusted hops, is the address the outermost trusted proxy saw (N entries from the right)", () => {
    // Each proxy appends the address it received the request from: the client can forge entries on the left only.
    expect(clientAddress({ kind: "hops", hops: 1 }, "10.0.0.5", "6.6.6.6, 203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddress({ kind: "hops", hops: 2 }, "10.0.0.5", "6.6.6.6, 203.0.113.7, 10.0.0.4")).toBe("203.0.113.7");
    // Fewer entries than hops: the leftmost one (the request passed fewer proxies than configured).
    expect(clientAddress({ kind: "hops", hops: 3 }, "10.0.0.5", "203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddress({ kind: "hops", hops: 1 }, "10.0.0.5", undefined)).toBe("10.0.0.5");
  });

  it("with trusted proxy addresses, skips trusted addresses from the right; the first untrusted one is the client", () => {
    const trust = { kind: "addresses" as const, addresses: ["10.0.0.0/8", "fd00::/8", "192.0.2.1"] };
    expect(clientAddress(trust, "10.0.0.5", "6.6.6.6, 203.0.113.7, 192.0.2.1, 10.9.9.9")).toBe("203.0.113.7");
    expect(clientAddress(trust, "fd00::1", "2001:db8::7")).toBe("2001:db8::7");
    // A peer that is not a trusted proxy is the client itself: its header is not believed.
    expect(clientAddress(trust, "198.51.100.1", "203.0.113.7")).toBe("198.51.100.1");
    // Everything trusted: the leftmost.
    expect(clientAddress(trust, "10.0.0.5", "10.1.1.1")).toBe("10.1.1.1");
  });

  it("ignores garbage in the header: an entry that is not an IP address is where trust stops", () => {
    expect(clientAddress({ kind: "hops", hops: 1 }, "10.0.0.5", "<script>")).toBe("10.0.0.5");
    expect(clientAddress({ kind: "addresses", addresses: ["10.0.0.0/8"] }, "10.0.0.5", "6.6.6.6, not-an-ip")).toBe("10.0.0.5");
  });
});

describe("whether a request came over https (the console's cookie is then Secure)", () => {
  const secure = async (trust: TrustProxy, url: string, headers: Record<string, string> = {}) => {
    const app = new Hono().get("/", (c) => c.text(String(requestIsHttps(trust)(c))));
    return (await (await app.request(url, { headers })).text()) === "true";
  };
  it("believes its own URL, and X-Forwarded-Proto only from a trusted proxy (the last entry, the nearest's)", async () => {
    expect(await secure({ kind: "off" }, "https://tenants.example/")).toBe(true);
    expect(await secure({ kind: "off" }, "http://tenants.example/", { "x-forwarded-proto": "https" })).toBe(false);
    expect(await secure({ kind: "hops", hops: 1 }, "http://tenants.example/", { "x-forwarded-proto": "https" })).toBe(true);
    expect(await secure({ kind: "hops", hops: 1 }, "http://tenants.example/", { "x-forwarded-proto": "https, http" })).toBe(false);
    // Not served by node (no socket): the peer is unknown, so not a listed proxy.
    expect(await secure({ kind: "addresses", addresses: ["10.0.0.0/8"] }, "http://tenants.example/", { "x-forwarded-proto": "https" })).toBe(false);
  });
});
