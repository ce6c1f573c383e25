import { serve } from "@hono/node-server";
import type { Hono } from "hono";

/** Serves a Hono app on a free loopback port for the duration of a test. */
export async function listen(app: Hono): Promise<{ url: string; close: () => Promise<void> }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      resolve({ url: `http://127.0.0.1:${info.port}`, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}
