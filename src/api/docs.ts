import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Hono } from "hono";

/**
 * The interactive API reference at /docs: Swagger UI served from the installed swagger-ui-dist package,
 * so it works on clouds without internet access (no CDN).
 */
export function docsRoutes(specUrl: string) {
  const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const assets: Record<string, { file: string; type: string }> = {
    "swagger-ui.css": { file: "swagger-ui.css", type: "text/css; charset=utf-8" },
    "swagger-ui-bundle.js": { file: "swagger-ui-bundle.js", type: "text/javascript; charset=utf-8" },
    "init.js": { file: "", type: "text/javascript; charset=utf-8" },
  };
  const init = `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl)}, dom_id: "#swagger-ui", deepLinking: true });\n`;
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openstack-tenants API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>
`;
  const cache = new Map<string, string>();
  const app = new Hono();
  app.get("/", (c) => c.html(page));
  app.get("/:asset", (c) => {
    const name = c.req.param("asset");
    // Own names only: `assets[name]` would find "constructor", "toString"… on Object.prototype.
    const asset = Object.hasOwn(assets, name) ? assets[name] : undefined;
    if (!asset) return c.notFound();
    if (name === "init.js") return c.body(init, 200, { "content-type": asset.type });
    let body = cache.get(name);
    if (body === undefined) {
      body = readFileSync(join(dir, asset.file), "utf8");
      cache.set(name, body);
    }
    return c.body(body, 200, { "content-type": asset.type, "cache-control": "public, max-age=86400" });
  });
  return app;
}
