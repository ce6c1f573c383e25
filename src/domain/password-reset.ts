import { createHmac } from "node:crypto";

/**
 * The key of a subscription's password-reset link (the `PASSWORD_RESET` endpoint shown to a Cloudesire
 * customer): derived like the credentials token but for this purpose only, so the link resets the
 * password and opens nothing else (not the credentials); re-issuing the credentials token (its generation)
 * retires it too.
 */
export function passwordResetKey(key: string, subscriptionId: string, generation: number): string {
  return `pr_${createHmac("sha256", key).update(`password-reset\n${subscriptionId}\n${generation}`).digest("base64url")}`;
}

/** The page a customer opens to reset the password (api/password-reset-routes.ts), under the service's public URL. */
export function passwordResetLink(serviceUrl: string, key: string, subscriptionId: string, generation: number): string {
  return `${serviceUrl.replace(/\/+$/, "")}/v1/subscriptions/${subscriptionId}/password-reset?key=${passwordResetKey(key, subscriptionId, generation)}`;
}
