import { createHmac, timingSafeEqual } from "node:crypto";
import { unauthorized } from "../../domain/errors.js";

/**
 * `CMW-Event-Signature: sha1=<lowercase hex HMAC-SHA1(secret, raw body bytes)>` (docs/event-notification.md,
 * "Securing your endpoint via HMAC signature validation"). There is no timestamp, hence no replay window:
 * a replayed notification only makes us read the subscription again, which is harmless by design.
 */
export function signNotification(secret: string, rawBody: Uint8Array | string): string {
  return `sha1=${createHmac("sha1", secret).update(rawBody).digest("hex")}`;
}

/** What a refusal says is expected: the marketplace's operator checks the product's secret against it. */
const FORMAT = "expected sha1=<lowercase hex HMAC-SHA1 of the raw body under the product's secret>";

/** Throws `unauthorized` unless the signature matches; compared in constant time. */
export function verifyNotification(secret: string, signature: string | undefined, rawBody: Uint8Array): void {
  if (!signature) throw unauthorized(`missing CMW-Event-Signature (${FORMAT})`);
  const expected = Buffer.from(signNotification(secret, rawBody));
  const given = Buffer.from(signature.trim().toLowerCase());
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw unauthorized(`bad CMW-Event-Signature (${FORMAT})`);
}

/**
 * During a rotation of the product's secret both the new and the previous one are accepted
 * (CLOUDESIRE_EVENT_SECRET_PREVIOUS): returns which one signed, or throws `unauthorized`.
 */
export function verifyNotificationRotating(current: string, previous: string | undefined, signature: string | undefined, rawBody: Uint8Array): "current" | "previous" {
  try {
    verifyNotification(current, signature, rawBody);
    return "current";
  } catch (e) {
    if (!previous) throw e;
    verifyNotification(previous, signature, rawBody);
    return "previous";
  }
}
