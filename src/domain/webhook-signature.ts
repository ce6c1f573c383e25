import { createHmac, timingSafeEqual } from "node:crypto";
import { unauthorized } from "./errors.js";

/** `sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>`: what the marketplace sends. */
export function signWebhook(secret: string, timestamp: string, rawBody: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex")}`;
}

/**
 * Throws `unauthorized` unless the signature is valid and the timestamp is inside the replay window.
 * The comparison is constant-time so that the signature cannot be guessed byte by byte.
 */
export function verifyWebhook(args: {
  secret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: string;
  nowSeconds: number;
  windowSeconds: number;
}): void {
  const { timestamp, signature } = args;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) throw unauthorized("missing or malformed X-Timestamp (unix seconds)");
  if (!signature) throw unauthorized("missing X-Signature");
  if (Math.abs(args.nowSeconds - Number(timestamp)) > args.windowSeconds) {
    throw unauthorized(`X-Timestamp is outside the ${args.windowSeconds}s replay window`);
  }
  const expected = Buffer.from(signWebhook(args.secret, timestamp, args.rawBody));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw unauthorized("bad signature");
}
