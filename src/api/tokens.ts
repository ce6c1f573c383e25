import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Customer tokens are stored only as SHA-256 hashes: a database leak does not leak access. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function newCustomerToken(): string {
  return `ct_${randomBytes(24).toString("base64url")}`;
}

/** Constant-time equality of two secrets of any length (hashing first equalises the lengths). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

export function bearerOf(header: string | undefined): string | undefined {
  const m = header?.match(/^Bearer\s+(\S+)$/i);
  return m?.[1];
}
