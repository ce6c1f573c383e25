import { serve } from "@hono/node-server";

/** Serves an app (anything with a fetch handler) on a free loopback port for the duration of a test. */
export async function listen(app: { fetch: (req: Request) => Response | Promise<Response> }): Promise<{ url: string; close: () => Promise<void> }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: (req) => app.fetch(req), port: 0, hostname: "127.0.0.1" }, (info) => {
      resolve({ url: `http://127.0.0.1:${info.port}`, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}
