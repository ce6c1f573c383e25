import { createServer, type Server } from "node:http";
import { serve, type ServerType } from "@hono/node-server";
import type { HttpLimits } from "./config.js";

/**
 * The HTTP server with limits on slow and many clients. Node's defaults let a client hold a socket for
 * 60 s sending headers a byte at a time, 300 s sending a body, with no cap on connections; and it checks
 * those timeouts only every 30 s (`connectionsCheckingInterval`). Answers are not bound: an event stream
 * stays open as long as its operation runs.
 */
export function listenHttp(fetch: (req: Request) => Response | Promise<Response>, o: { port: number; hostname: string; limits: HttpLimits }): Promise<ServerType> {
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
  });
}
