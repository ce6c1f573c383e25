import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, trustProxyWarning } from "../../../src/config.js";
import { listenHttp } from "../../../src/http-server.js";

/** A client that connects and then sends only what it is told, when it is told. */
const client = (port: number) =>
  new Promise<{ socket: Socket; closed: Promise<string>; received: () => string }>((resolve, reject) => {
    let received = "";
    const socket = connect({ host: "127.0.0.1", port }, () => resolve({ socket, closed, received: () => received }));
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

async function serving(limits: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnections: number }) {
  // Reads the whole body before answering, as every route with a body does.
  const server = await listenHttp(async (req) => new Response(req.body ? `read ${(await req.text()).length}` : "ok"), { port: 0, hostname: "127.0.0.1", limits });
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
    expect(loadConfig({ DATA_DIR: dir }).http).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1000 });
    expect(loadConfig({ DATA_DIR: dir, HTTP_HEADERS_TIMEOUT_SECONDS: "60", HTTP_REQUEST_TIMEOUT_SECONDS: "20" }).http.headersTimeoutMs).toBe(20_000);
  });
});
