import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { conflict, notFound, unauthorized } from "../domain/errors.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import { passwordResetKey } from "../domain/password-reset.js";
import { validationHook } from "./problem.js";
import { problem } from "./route-docs.js";
import { sameSecret } from "./tokens.js";

const Params = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "4242" }) });
const Key = z.string().max(128).openapi({ example: "pr_3q2…" });
const Html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });

export interface PasswordResetDeps {
  get(id: string): Promise<SubscriptionRecord | null>;
  customerTokenKey: string;
  /** Applies the desired state again with a new password (one stack update, as an operator's rotation). */
  rotate(id: string, note: string): Promise<unknown>;
}

/**
 * The customer's own password reset: the page behind a Cloudesire subscription's `PASSWORD_RESET`
 * endpoint. The link carries the subscription's reset key (tokens.ts: it opens this and nothing else).
 * GET shows a confirmation form and changes nothing (link previews and crawlers follow GETs); POST
 * rotates the password, and the outcome posts the new credentials to Cloudesire.
 */
export function passwordResetRoutes(deps: PasswordResetDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });

  const opened = async (rawId: string, key: string | undefined): Promise<SubscriptionRecord> => {
    const id = SubscriptionId.safeParse(rawId);
    const sub = id.success ? await deps.get(id.data) : null;
    // An unknown subscription and a wrong key look the same.
    if (!sub || !key || sub.tokenGeneration === 0 || !sameSecret(key, passwordResetKey(deps.customerTokenKey, sub.id, sub.tokenGeneration))) {
      throw unauthorized("this password-reset link is not valid (it may have been replaced: open the one your marketplace shows now)");
    }
    if (sub.desired.status === "cancelled") throw conflict("this subscription is cancelled: it has no password any more");
    return sub;
  };

  app.openapi(createRoute({
    method: "get", path: "/subscriptions/{id}/password-reset", tags: ["customers"],
    summary: "The customer's password-reset page (Cloudesire's PASSWORD_RESET endpoint): a confirmation form; changes nothing",
    request: { params: Params, query: z.object({ key: Key }) },
    responses: { 200: Html("the confirmation form (no-store)"), 401: problem("a key not (or no longer) valid"), 409: problem("cancelled") },
  }), async (c) => {
    const key = c.req.valid("query").key;
    const sub = await opened(c.req.valid("param").id, key);
    return c.html(page("New password", `<p>Set a new password for the user of OpenStack project <b>sub-${sub.id}</b>. The current one stops working; the new one appears in your credentials on the marketplace within minutes.</p>
<p lang="it">Imposta una nuova password per l'utente del progetto OpenStack <b>sub-${sub.id}</b>. Quella attuale smette di funzionare; la nuova compare tra le tue credenziali sul marketplace entro pochi minuti.</p>
<form method="post"><input type="hidden" name="key" value="${escapeHtml(key)}"><button type="submit">Set a new password / Imposta una nuova password</button></form>`), 200, { "cache-control": "no-store", "referrer-policy": "no-referrer" });
  });

  app.openapi(createRoute({
    method: "post", path: "/subscriptions/{id}/password-reset", tags: ["customers"],
    summary: "The customer sets a new password: one stack update, as an operator's rotation; the credentials on Cloudesire follow",
    request: { params: Params, body: { required: true, content: { "application/x-www-form-urlencoded": { schema: z.object({ key: Key }) } } } },
    responses: { 202: Html("the new password is on its way"), 401: problem("a key not (or no longer) valid"), 404: problem("not provisioned yet"), 409: problem("cancelled") },
  }), async (c) => {
    const sub = await opened(c.req.valid("param").id, c.req.valid("form").key);
    if (!sub.outputs) throw notFound("the project is not provisioned yet: try again once it is ready");
    await deps.rotate(sub.id, "password reset by the customer");
    return c.html(page("New password on its way", `<p>A new password is being set. It will appear in your credentials on the marketplace within minutes.</p>
<p lang="it">È in corso l'impostazione di una nuova password. Comparirà tra le tue credenziali sul marketplace entro pochi minuti.</p>`), 202, { "cache-control": "no-store" });
  });
  return app;
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
