import { createServer, type Server } from "node:http";
import { isIP, type Socket } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import type { HttpLimits } from "./config.js";

/**
 * The HTTP server with limits on slow and many clients. Node's defaults let a client hold a socket for
 * 60 s sending headers a byte at a time, 300 s sending a body, with no cap on connections; and it checks
 * those timeouts only every 30 s (`connectionsCheckingInterval`). Answers are not bound: an event stream
 * stays open as long as its operation runs.
 */
export function listenHttp(
  fetch: (req: Request) => Response | Promise<Response>,
  o: { port: number; hostname: string; limits: HttpLimits; /** Peers not bound per source (the trusted proxies). */ unbound?: (address: string) => boolean },
): Promise<ServerType> {
  const checkEvery = Math.max(100, Math.min(1000, o.limits.headersTimeoutMs / 2));
  return new Promise((resolve) => {
    const server = serve(
      {
        fetch, port: o.port, hostname: o.hostname, createServer,
        serverOptions: { headersTimeout: o.limits.headersTimeoutMs, requestTimeout: o.limits.requestTimeoutMs, connectionsCheckingInterval: checkEvery },
      },
      () => resolve(server),
    );
    // Beyond the cap, a new connection is closed as it arrives (net.Server drops it).
    (server as Server).maxConnections = o.limits.maxConnections;
    boundPerSource(server as Server, o.limits.maxConnectionsPerSource, o.unbound ?? (() => false));
  });
}

/**
 * One source may hold at most `perSource` of the connections: a client holding the server's whole cap idle
 * (and reopening each as it times out) locked every other one out (issue 31: 10 of 12 health probes from
 * another address refused over 60 s). A connection over its source's share is closed as it arrives.
 */
function boundPerSource(server: Server, perSource: number, unbound: (address: string) => boolean): void {
  const open = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || unbound(plainAddress(address))) return;
    const source = sourceOf(address);
    const count = open.get(source) ?? 0;
    if (count >= perSource) {
      socket.destroy();
      return;
    }
    open.set(source, count + 1);
    socket.once("close", () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left > 0) open.set(source, left);
      else open.delete(source);
    });
  });
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
const plainAddress = (address: string): string => (address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address);

/** What one client is counted as: its IPv4 address, or the /64 of its IPv6 one (a host is given a whole /64, RFC 6177). */
export function sourceOf(address: string): string {
  const plain = plainAddress(address);
  if (isIP(plain) !== 6) return plain;
  const [head = "", tail = ""] = plain.toLowerCase().split("%")[0]!.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = plain.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = plain.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
