import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { AppError, conflict, notFound } from "../domain/errors.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import { FORM_KEY_SECONDS, formKeyExpiry, passwordResetKey, resetFormKey, type ResetLink } from "../domain/password-reset.js";
import type { Authenticate } from "./operator-auth.js";
import { problemResponse, validationHook } from "./problem.js";
import { problem } from "./route-docs.js";
import { sameSecret } from "./tokens.js";

const Params = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "4242" }) });
const Key = z.string().max(128).openapi({ example: "pr_3q2…" });
const FormKey = z.string().max(128).openapi({ example: "pf_1796000000_3q2…", description: "the key in the form the link shows (expires; one use)" });
const Html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });

/**
 * The page is the customer's, on the service's origin: nothing may frame it (a click-jacked "Set a new
 * password" button), load anything into it, or send its form elsewhere.
 */
const PAGE_HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
};

export interface PasswordResetDeps {
  get(id: string): Promise<SubscriptionRecord | null>;
  customerTokenKey: string;
  /** The subscription's current link generation (store/password-resets.ts). */
  resetGeneration(id: string): Promise<number>;
  /**
   * Applies the desired state again with a new password (one stack update, as an operator's rotation), ending
   * link generation `generation` and recording it in the audit trail in the same transaction; 401 (nothing
   * done) when that generation had already ended.
   */
  reset(id: string, generation: number, note: string): Promise<void>;
  /** Records a refused reset of a known subscription in the audit trail. */
  refused(id: string, result: string): Promise<void>;
  /** Failed keys count against their source as operators' failed authentications do (429 past the budget). */
  authenticated: Authenticate;
  now: () => number;
}

const NOT_VALID = "this password-reset link is not valid (it may have been used or replaced: open the one your marketplace shows now)";

/**
 * The customer's own password reset: the page behind a Cloudesire subscription's `PASSWORD_RESET`
 * endpoint. The link's key (domain/password-reset.ts) shows a confirmation form and changes nothing (link
 * previews and crawlers follow GETs); the form's own key, which expires, sends the reset once. The outcome
 * posts the new credentials, and the next link, to Cloudesire.
 */
export function passwordResetRoutes(deps: PasswordResetDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });

  /** The subscription and its link, if `check` accepts the key for it; a failure spends the source's budget. */
  const opened = (c: Context, rawId: string, check: (link: ResetLink) => boolean): Promise<{ sub: SubscriptionRecord; link: ResetLink }> =>
    deps.authenticated(c, async () => {
      const id = SubscriptionId.safeParse(rawId);
      const sub = id.success ? await deps.get(id.data) : null;
      // An unknown subscription and a wrong key look the same.
      if (!sub || sub.tokenGeneration === 0) return null;
      const link = { subscriptionId: sub.id, tokenGeneration: sub.tokenGeneration, resetGeneration: await deps.resetGeneration(sub.id) };
      return check(link) ? { sub, link } : null;
    }, NOT_VALID);

  app.openapi(createRoute({
    method: "get", path: "/subscriptions/{id}/password-reset", tags: ["customers"],
    summary: "The customer's password-reset page (Cloudesire's PASSWORD_RESET endpoint): a confirmation form; changes nothing",
    request: { params: Params, query: z.object({ key: Key }) },
    responses: {
      200: Html("the confirmation form (no-store, framed by nobody)"), 401: problem("a key not (or no longer) valid"), 409: problem("cancelled"),
      429: problem("too many failed keys from this source (Retry-After says when to retry)"),
    },
  }), async (c) => {
    const key = c.req.valid("query").key;
    const { sub, link } = await opened(c, c.req.valid("param").id, (l) => sameSecret(key, passwordResetKey(deps.customerTokenKey, l)));
    if (sub.desired.status === "cancelled") throw conflict("this subscription is cancelled: it has no password any more");
    const formKey = resetFormKey(deps.customerTokenKey, link, Math.floor(deps.now() / 1000) + FORM_KEY_SECONDS);
    return c.html(page("New password", `<p>Set a new password for the user of OpenStack project <b>sub-${sub.id}</b>. The current one stops working; the new one appears in your credentials on the marketplace within minutes. This form can be sent once, within ${FORM_KEY_SECONDS / 60} minutes.</p>
<p lang="it">Imposta una nuova password per l'utente del progetto OpenStack <b>sub-${sub.id}</b>. Quella attuale smette di funzionare; la nuova compare tra le tue credenziali sul marketplace entro pochi minuti. Questo modulo può essere inviato una volta, entro ${FORM_KEY_SECONDS / 60} minuti.</p>
<form method="post"><input type="hidden" name="key" value="${escapeHtml(formKey)}"><button type="submit">Set a new password / Imposta una nuova password</button></form>`), 200, PAGE_HEADERS);
  });

  app.openapi(createRoute({
    method: "post", path: "/subscriptions/{id}/password-reset", tags: ["customers"],
    summary: "The customer sets a new password: one stack update, as an operator's rotation; the credentials on Cloudesire follow",
    description: "Sent by the form the link shows, with its key: once per link, within the form's time. Audited as `customer:<subscription>`.",
    middleware: [formOnly],
    request: { params: Params, body: { required: true, content: { "application/x-www-form-urlencoded": { schema: z.object({ key: FormKey }) } } } },
    responses: {
      202: Html("the new password is on its way"), 401: problem("a form key not (or no longer) valid: expired, or its link used or replaced"), 404: problem("not provisioned yet"), 409: problem("cancelled"),
      415: problem("not a form (application/x-www-form-urlencoded)"), 429: problem("too many failed keys from this source (Retry-After says when to retry)"),
    },
  }), async (c) => {
    const formKey = c.req.valid("form").key;
    const expiresAt = formKeyExpiry(formKey);
    const { sub, link } = await opened(c, c.req.valid("param").id, (l) =>
      expiresAt !== null && expiresAt * 1000 > deps.now() && sameSecret(formKey, resetFormKey(deps.customerTokenKey, l, expiresAt)));
    try {
      if (sub.desired.status === "cancelled") throw conflict("this subscription is cancelled: it has no password any more");
      if (!sub.outputs) throw notFound("the project is not provisioned yet: try again once it is ready");
      await deps.reset(sub.id, link.resetGeneration, "password reset by the customer");
    } catch (e) {
      if (e instanceof AppError && e.kind !== "unauthorized") await deps.refused(sub.id, e.message);
      throw e;
    }
    return c.html(page("New password on its way", `<p>A new password is being set. It will appear in your credentials on the marketplace within minutes.</p>
<p lang="it">È in corso l'impostazione di una nuova password. Comparirà tra le tue credenziali sul marketplace entro pochi minuti.</p>`), 202, PAGE_HEADERS);
  });
  return app;
}

/** A form route says what it takes: a form, not the JSON every other route's refusal asks for. */
const formOnly: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    return problemResponse(c, 415, `unsupported Content-Type${type ? ` '${type.slice(0, 100)}'` : " (none sent)"}: send the form as application/x-www-form-urlencoded`);
  }
  await next();
};

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
