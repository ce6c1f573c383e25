import { createHmac, timingSafeEqual } from "node:crypto";
import { unauthorized } from "./errors.js";

/**
 * `sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>`: what the marketplace sends. The body
 * is the exact bytes on the wire: a string is taken as its UTF-8 encoding.
 */
export function signWebhook(secret: string, timestamp: string, rawBody: string | Uint8Array): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest("hex")}`;
}

/** What a sender needs to fix a refused signature. */
const SIGNATURE_FORMAT = 'expected sha256=<64 lowercase hex digits of HMAC-SHA256(secret, "<X-Timestamp>.<raw body>")>';

/**
 * Throws `unauthorized` unless the signature is valid and the timestamp is inside the replay window.
 * The comparison is constant-time so that the signature cannot be guessed byte by byte. During a secret
 * rotation the previous secret is accepted too; the answer says which one signed.
 */
export function verifyWebhook(args: {
  secret: string;
  previousSecret?: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: string | Uint8Array;
  nowSeconds: number;
  windowSeconds: number;
}): "current" | "previous" {
  const { timestamp, signature } = args;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) throw unauthorized("missing or malformed X-Timestamp (unix seconds)");
  if (!signature) throw unauthorized(`missing X-Signature: ${SIGNATURE_FORMAT}`);
  if (!/^sha256=[0-9a-f]{64}$/.test(signature)) throw unauthorized(`malformed X-Signature: ${SIGNATURE_FORMAT}`);
  if (Math.abs(args.nowSeconds - Number(timestamp)) > args.windowSeconds) {
    throw unauthorized(`X-Timestamp is outside the ${args.windowSeconds}s replay window`);
  }
  const given = Buffer.from(signature);
  const matches = (secret: string) => {
    const expected = Buffer.from(signWebhook(secret, timestamp, args.rawBody));
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  if (matches(args.secret)) return "current";
  if (args.previousSecret !== undefined && matches(args.previousSecret)) return "previous";
  throw unauthorized(`bad signature: X-Signature is not ${SIGNATURE_FORMAT.replace(/^expected /, "")} with the shared secret`);
}
