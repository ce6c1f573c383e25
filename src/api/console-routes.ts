import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import type { Context } from "hono";

/**
 * The operators' console (src/console/): one HTML page, its script and its stylesheet, all from this
 * service (the machines that run it have no internet: no CDN). The script is the console's TypeScript,
 * bundled by esbuild at the first request and kept in memory, so `npm start` needs no build step.
 */

const CONSOLE_DIR = fileURLToPath(new URL("../console/", import.meta.url));

/**
 * Nothing runs but our own script, no inline script or style, nothing may frame the page (clickjacking
 * of its action buttons), and forms post only here (MDN, Content-Security-Policy; OWASP's CSP cheat sheet).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>openstack-tenants console</title>
<link rel="stylesheet" href="/console/console.css">
<script type="module" src="/console/console.js"></script>
</head>
<body>
<div id="console"><main id="main"><h1>openstack-tenants console</h1><p>Loading… (the console needs JavaScript)</p></main></div>
</body>
</html>
`;

/** The console's script: bundled once per process (about 0.1 s), at the first request that needs it. */
let bundle: Promise<string> | undefined;
export function consoleBundle(): Promise<string> {
  bundle ??= (async () => {
    const esbuild = await import("esbuild");
    const out = await esbuild.build({
      entryPoints: [`${CONSOLE_DIR}main.ts`],
      bundle: true, write: false, format: "esm", platform: "browser", target: "es2022", minify: true, legalComments: "none", logLevel: "silent",
    });
    const file = out.outputFiles[0];
    if (!file) throw new Error("esbuild produced no console bundle");
    return file.text;
  })();
  // A failed build is tried again at the next request, not kept.
  bundle.catch(() => {
    bundle = undefined;
  });
  return bundle;
}

const secured = (c: Context, body: string, type: string, cache: string) =>
  c.body(body, 200, {
    "content-type": type,
    "content-security-policy": CONSOLE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": cache,
  });

/** GET /console (the page; its views are addressed after `#`), /console/console.js, /console/console.css (mounted at /). */
export function consoleRoutes() {
  const app = new Hono();
  const page = (c: Context) => secured(c, PAGE, "text/html; charset=utf-8", "no-store");
  app.get("/console", page);
  app.get("/console/", page);
  // no-cache: revalidated at each load, so a restarted service's new console is never mixed with an old one.
  app.get("/console/console.js", async (c) => secured(c, await consoleBundle(), "text/javascript; charset=utf-8", "no-cache"));
  app.get("/console/console.css", async (c) => secured(c, await readFile(`${CONSOLE_DIR}console.css`, "utf8"), "text/css; charset=utf-8", "no-cache"));
  return app;
}
