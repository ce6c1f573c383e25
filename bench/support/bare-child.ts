/** The baseline: the same request answered by a bare Hono handler on @hono/node-server, nothing stored. */
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono().post("/v1/events", async (c) => {
  await c.req.text();
  return c.json({ status: "accepted" }, 202);
});
serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${info.port}` })}\n`));
