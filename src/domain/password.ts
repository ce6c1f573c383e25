import { randomBytes } from "node:crypto";

/** A customer's Keystone password: 24 random bytes, URL-safe (~190 bits, within Keystone's default rules). */
export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}
