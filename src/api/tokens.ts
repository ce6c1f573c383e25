import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** A SHA-256 hash: how tokens made before derived tokens were kept (a database leak does not leak access). */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * A customer's credentials token: HMAC-SHA256 under the service's key of the subscription and its token
 * generation. Nothing of it is stored, so it can be given again (a marketplace that lost the answer to
 * its creating event sends it again), and re-issuing it is counting the generation up: the earlier ones
 * stop working, the same one comes back until then.
 */
export function customerToken(key: string, subscriptionId: string, generation: number): string {
  return `ct_${createHmac("sha256", key).update(`customer-token\n${subscriptionId}\n${generation}`).digest("base64url")}`;
}

/**
 * Whether `token` opens this subscription: the token of its current generation, or, for a subscription
 * created before tokens were derived (generation 0), the random token whose hash was stored.
 */
export function customerTokenOpens(key: string, sub: { id: string; tokenGeneration: number; tokenHash: string | null }, token: string): boolean {
  if (sub.tokenGeneration > 0) return sameSecret(token, customerToken(key, sub.id, sub.tokenGeneration));
  return sub.tokenHash !== null && sameSecret(hashToken(token), sub.tokenHash);
}

/** The token of a subscription that has a derived one (none for one made before tokens were derived). */
export function currentCustomerToken(key: string, sub: { id: string; tokenGeneration: number }): string | undefined {
  return sub.tokenGeneration > 0 ? customerToken(key, sub.id, sub.tokenGeneration) : undefined;
}

/** Constant-time equality of two secrets of any length (hashing first equalises the lengths). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

export function bearerOf(header: string | undefined): string | undefined {
  const m = header?.match(/^Bearer\s+(\S+)$/i);
  return m?.[1];
}
