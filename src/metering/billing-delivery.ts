import type { DeliveryStatus } from "../domain/billing.js";
import { signWebhook } from "../domain/webhook-signature.js";

export interface DeliveryTarget {
  url: string;
  /** Signs the body like the marketplace signs ours: X-Timestamp + X-Signature (HMAC-SHA256). */
  secret: string;
  attempts: number;
  backoffMs: number;
}

/**
 * POSTs a billing run to the configured billing system, retrying network errors and 5xx with backoff.
 * A 4xx is final (the receiver refused this body: retrying would not change its mind). Every attempt carries
 * the same `Idempotency-Key` (the IETF httpapi draft's header): a receiver that saw it already answers 2xx
 * and keeps one copy, so a retry after a lost answer never bills twice.
 */
export async function deliver(target: DeliveryTarget, payload: unknown, idempotencyKey: string, fetchImpl: typeof fetch = fetch): Promise<DeliveryStatus> {
  const body = JSON.stringify(payload);
  let error = "not attempted";
  for (let attempt = 1; attempt <= target.attempts; attempt++) {
    const ts = String(Math.floor(Date.now() / 1000));
    try {
      const res = await fetchImpl(target.url, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": idempotencyKey, "x-timestamp": ts, "x-signature": signWebhook(target.secret, ts, body) },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      await res.body?.cancel();
      if (res.ok) return { status: "delivered", attempts: attempt, at: new Date().toISOString(), error: null };
      error = `the billing URL answered ${res.status}`;
      if (res.status < 500) return { status: "failed", attempts: attempt, at: new Date().toISOString(), error };
    } catch (e) {
      error = `the billing URL did not answer (${e instanceof Error ? e.message : String(e)})`;
    }
    if (attempt < target.attempts) await new Promise((r) => setTimeout(r, target.backoffMs * 2 ** (attempt - 1)));
  }
  return { status: "failed", attempts: target.attempts, at: new Date().toISOString(), error };
}
