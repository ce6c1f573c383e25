import { createHmac } from "node:crypto";

/**
 * A subscription's password-reset link (the `PASSWORD_RESET` endpoint shown to a Cloudesire customer) and
 * the form it opens. The link's key is derived like the credentials token but for this purpose only, so it
 * resets the password and opens nothing else; it names a *link generation*: a reset done through it ends
 * that generation (the next link is posted to Cloudesire with the new credentials), and re-issuing the
 * credentials token retires it too. The link only shows a form; the form carries a key of its own that
 * expires (FORM_KEY_SECONDS) and dies with the generation: one use per link, and no key that resets for
 * ever (issue 31 §5).
 */
export interface ResetLink {
  subscriptionId: string;
  /** The credentials token's generation (re-issuing the token retires the link). */
  tokenGeneration: number;
  /** How many resets were done through links of this subscription. */
  resetGeneration: number;
}

/** How long a form opened from the link may be sent: a customer reads two sentences and presses a button. */
export const FORM_KEY_SECONDS = 15 * 60;

const mac = (key: string, text: string) => createHmac("sha256", key).update(text).digest("base64url");
// Generation 0 keeps the text links had before generations existed: links already on Cloudesire still open.
const linkText = (l: ResetLink) => `password-reset\n${l.subscriptionId}\n${l.tokenGeneration}${l.resetGeneration === 0 ? "" : `\n${l.resetGeneration}`}`;

export function passwordResetKey(key: string, link: ResetLink): string {
  return `pr_${mac(key, linkText(link))}`;
}

/** The page a customer opens to reset the password (api/password-reset-routes.ts), under the service's public URL. */
export function passwordResetLink(serviceUrl: string, key: string, link: ResetLink): string {
  return `${serviceUrl.replace(/\/+$/, "")}/v1/subscriptions/${link.subscriptionId}/password-reset?key=${passwordResetKey(key, link)}`;
}

/** The key in the form the link shows: valid until `expiresAt` (unix seconds), for this link generation only. */
export function resetFormKey(key: string, link: ResetLink, expiresAt: number): string {
  return `pf_${expiresAt}_${mac(key, `password-reset-form\n${linkText(link)}\n${expiresAt}`)}`;
}

/** When a form key says it expires (unix seconds), or null if it is no form key. Its MAC is checked by recomputing it. */
export function formKeyExpiry(formKey: string): number | null {
  const m = /^pf_(\d{1,12})_[A-Za-z0-9_-]{43}$/.exec(formKey);
  return m ? Number(m[1]) : null;
}
