import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, trustProxyWarning } from "../../../src/config.js";
import { listenHttp, sourceOf } from "../../../src/http-server.js";

/** Waits for `condition`, failing with `what` after the deadline: no fixed sleeps. */
async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A client that connects (from `from`, a loopback address: 127.0.0.0/8 is all this machine's) and then sends only what it is told. */
const client = (port: number, from = "127.0.0.1") =>
  new Promise<{ socket: Socket; closed: Promise<string>; received: () => string }>((resolve, reject) => {
    let received = "";
    const socket = connect({ host: "127.0.0.1", port, localAddress: from }, () => resolve({ socket, closed, received: () => received }));
    const closed = new Promise<string>((r) => socket.once("close", () => r(received)));
    socket.on("data", (d) => {
      received += d.toString();
    });
    socket.on("error", reject);
  });

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serving(limits: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnections: number; maxConnectionsPerSource?: number }, unbound?: (address: string) => boolean) {
  // Reads the whole body before answering, as every route with a body does.
  const server = await listenHttp(async (req) => new Response(req.body ? `read ${(await req.text()).length}` : "ok"), {
    port: 0, hostname: "127.0.0.1", limits: { maxConnectionsPerSource: limits.maxConnections, ...limits }, ...(unbound ? { unbound } : {}),
  });
  close = () => new Promise((r) => {
    (server as unknown as { closeAllConnections(): void }).closeAllConnections();
    server.close(() => r());
  });
  return (server.address() as AddressInfo).port;
}

const within = <T>(ms: number, p: Promise<T>, what: string) =>
  Promise.race([p, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms))]);

describe("slow and many clients", () => {
  it("a client that trickles its headers is cut off at the headers timeout, not after Node's 60 s", async () => {
    const port = await serving({ headersTimeoutMs: 500, requestTimeoutMs: 1000, maxConnections: 10 });
    const c = await client(port);
    c.socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
    const tick = setInterval(() => c.socket.write("X-Slow: 1\r\n"), 100);
    try {
      await within(3000, c.closed, "a slow-headers client");
    } finally {
      clearInterval(tick);
    }
  });

  it("a client that trickles its body is answered 408 and cut off at the request timeout", async () => {
    const port = await serving({ headersTimeoutMs: 500, requestTimeoutMs: 1000, maxConnections: 10 });
    const c = await client(port);
    c.socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    const tick = setInterval(() => c.socket.write("x"), 100);
    try {
      expect(await within(4000, c.closed, "a slow-body client")).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(tick);
    }
  });

  it("connections beyond the cap are closed as they arrive; those within it are served", async () => {
    const port = await serving({ headersTimeoutMs: 5000, requestTimeoutMs: 5000, maxConnections: 2 });
    const held = [await client(port), await client(port)];
    const extra = await client(port);
    await within(2000, extra.closed, "a connection over the cap");
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe("ok");
  });

  it("one source holding its share of connections cannot lock the others out: its next one is closed, other sources are served", async () => {
    const port = await serving({ headersTimeoutMs: 5000, requestTimeoutMs: 5000, maxConnections: 10, maxConnectionsPerSource: 3 });
    const held = await Promise.all([1, 2, 3].map(() => client(port, "127.0.0.2")));
    const extra = await client(port, "127.0.0.2");
    await within(2000, extra.closed, "a fourth connection from one source");
    // Another source (the marketplace, an operator) still gets in, several times over.
    const others = await Promise.all([1, 2, 3].map(() => client(port, "127.0.0.3")));
    others[0]?.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => /^HTTP\/1\.1 200/.test(others[0]?.received() ?? ""), "an answer to another source");
    // A connection closed frees its place in its source's share.
    held[0]?.socket.destroy();
    await held[0]?.closed;
    const again = await client(port, "127.0.0.2");
    again.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => /^HTTP\/1\.1 200/.test(again.received()), "an answer once the source is within its share again");
    for (const c of [...held, ...others, again]) c.socket.destroy();
  });

  it("a trusted proxy (TRUST_PROXY's addresses) is not bound per source: it carries every client", async () => {
    const port = await serving({ headersTimeoutMs: 5000, requestTimeoutMs: 5000, maxConnections: 10, maxConnectionsPerSource: 2 }, (a) => a === "127.0.0.4");
    const through = await Promise.all([1, 2, 3, 4].map(() => client(port, "127.0.0.4")));
    through[3]?.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => /^HTTP\/1\.1 200/.test(through[3]?.received() ?? ""), "an answer to the proxy's fourth connection");
    for (const c of through) c.socket.destroy();
  });

  it("an IPv6 client counts as its /64, an IPv4 one as its address", () => {
    expect(sourceOf("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(sourceOf("2001:db8:1:2:bbbb:cccc:dddd:eeee")).toBe("2001:db8:1:2::/64");
    expect(sourceOf("2001:db8::5")).toBe("2001:db8:0:0::/64");
    expect(sourceOf("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(sourceOf("10.0.0.1")).toBe("10.0.0.1");
  });
});

describe("trusting proxies", () => {
  it("a number of trusted proxies with the service listening on every address is warned about at start", () => {
    expect(trustProxyWarning({ kind: "hops", hops: 1 }, "0.0.0.0")).toMatch(/believes X-Forwarded-For from any peer/);
    expect(trustProxyWarning({ kind: "hops", hops: 1 }, "127.0.0.1")).toBeNull();
    expect(trustProxyWarning({ kind: "addresses", addresses: ["10.0.0.1"] }, "0.0.0.0")).toBeNull();
    expect(trustProxyWarning({ kind: "off" }, "0.0.0.0")).toBeNull();
  });

  it("the HTTP limits are configured with defaults well below Node's, the headers' bounded by the request's", () => {
    const dir = `/tmp/slow-clients-${process.pid}`;
    expect(loadConfig({ DATA_DIR: dir }).http).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1000, maxConnectionsPerSource: 100 });
    expect(loadConfig({ DATA_DIR: dir, HTTP_MAX_CONNECTIONS: "50" }).http.maxConnectionsPerSource).toBe(50);
    expect(loadConfig({ DATA_DIR: dir, HTTP_HEADERS_TIMEOUT_SECONDS: "60", HTTP_REQUEST_TIMEOUT_SECONDS: "20" }).http.headersTimeoutMs).toBe(20_000);
  });
});
