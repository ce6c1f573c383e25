import type { CreditNote, DeliveryStatus, IssuedInvoice, BillingRunRecord } from "../domain/billing.js";
import { signWebhook } from "../domain/webhook-signature.js";
import type { Logger } from "../log.js";
import { Poller } from "../poller.js";

export interface DeliveryTarget {
  url: string;
  /** Signs the body like the marketplace signs ours: X-Timestamp + X-Signature (HMAC-SHA256). */
  secret: string;
  /** Attempts in all, across restarts, before the delivery is dead (an operator redelivers it). */
  attempts: number;
  /** The wait after the first failed attempt, doubled after each one up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs?: number;
}

/** What the billing worker needs of the store (store/billing-store.ts): each run's delivery is a durable job on its row. */
export interface DeliveryLedger {
  /** Runs whose delivery waits and is due now, the longest waiting first. */
  dueDeliveries(limit: number): Promise<number[]>;
  /** The delivery of a run as it stands (null: the run has nothing to deliver). */
  deliveryOf(id: number): Promise<{ state: "waiting" | "delivered" | "dead"; attempts: number; due: boolean } | null>;
  get(id: number): Promise<{ run: BillingRunRecord; invoices: IssuedInvoice[]; credits: CreditNote[] } | null>;
  /** Records an attempt's outcome: `waiting` again after `retryInMs`, `delivered` or `dead`. */
  recordAttempt(id: number, status: DeliveryStatus, retryInMs: number | null): Promise<void>;
  /** An operator's redelivery: waiting again now, with a fresh count of attempts. */
  requeueDelivery(id: number): Promise<boolean>;
}

/** One POST's result: delivered, refused for good (4xx), or worth another try (5xx, no answer). */
type Attempt = { ok: true } | { ok: false; final: boolean; error: string };

/**
 * POSTs a run once, signed. Every attempt of a run carries the same `Idempotency-Key` (the IETF httpapi
 * draft's header): a receiver that kept it already answers 2xx and keeps one copy, so a retry after a lost
 * answer, or after our crash between its 2xx and our record of it, never bills twice.
 */
export async function postRun(target: Pick<DeliveryTarget, "url" | "secret">, payload: unknown, idempotencyKey: string, fetchImpl: typeof fetch = fetch): Promise<Attempt> {
  const body = JSON.stringify(payload);
  const ts = String(Math.floor(Date.now() / 1000));
  try {
    const res = await fetchImpl(target.url, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": idempotencyKey, "x-timestamp": ts, "x-signature": signWebhook(target.secret, ts, body) },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    await res.body?.cancel();
    if (res.ok) return { ok: true };
    // A 4xx is final: the receiver refused this body, and retrying would not change its mind.
    return { ok: false, final: res.status < 500, error: `the billing URL answered ${res.status}` };
  } catch (e) {
    return { ok: false, final: false, error: `the billing URL did not answer (${e instanceof Error ? e.message : String(e)})` };
  }
}

/** After attempt number `attempts` failed: dead, or when to try again (doubling, capped). Pure. */
export function retryAfter(target: DeliveryTarget, attempts: number, final: boolean): number | null {
  if (final || attempts >= target.attempts) return null;
  return Math.min(target.backoffMs * 2 ** (attempts - 1), target.maxBackoffMs ?? 15 * 60_000);
}

export interface BillingDeliveriesOptions {
  ledger: DeliveryLedger;
  target: DeliveryTarget;
  /** Runs `fn` holding a lock shared by every replica (Db.tryWithLock): one attempt of a run at a time. */
  withLock: <T>(key: string, fn: () => Promise<T>) => Promise<{ acquired: true; value: T } | { acquired: false }>;
  log: Logger;
  pollMs: number;
  fetchImpl?: typeof fetch;
}

/**
 * Billing deliveries as durable jobs: a run's delivery is stored with the run (state `waiting`), before
 * its first attempt, so a restart, a crash or another replica picks it up; each failure waits longer
 * (doubling), and after the last attempt the delivery is `dead`, shown on the run, counted in
 * `tenants_billing_deliveries{state="dead"}`, until an operator redelivers it.
 */
export class BillingDeliveries {
  private readonly poller: Poller;

  constructor(private readonly o: BillingDeliveriesOptions) {
    this.poller = new Poller(() => this.pass(), o.pollMs, (e) => o.log.error("billing delivery pass failed", { error: e instanceof Error ? e.message : String(e) }));
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** Delivers what is due: every waiting run whose time has come. */
  private async pass(): Promise<void> {
    for (const id of await this.o.ledger.dueDeliveries(20)) {
      if (this.poller.stopped) break;
      await this.attempt(id);
    }
  }

  /**
   * One attempt of a run's delivery if it is waiting and due (else its state as it is), holding the run's
   * lock so that two replicas never POST it at once; the outcome is recorded before the lock is let go.
   */
  async attempt(id: number): Promise<DeliveryStatus | null> {
    const held = await this.o.withLock(`billing-delivery:${id}`, async () => {
      const state = await this.o.ledger.deliveryOf(id);
      const found = await this.o.ledger.get(id);
      if (!state || !found) return null;
      if (state.state !== "waiting" || !state.due) return found.run.delivery;
      // The run, its invoices and credit notes; the inputs stay with us (GET /v1/billing-runs/{id} shows them).
      const payload = { run: { ...found.run, delivery: undefined }, invoices: found.invoices, credits: found.credits };
      const result = await postRun(this.o.target, payload, `billing-run-${id}`, this.o.fetchImpl);
      const attempts = state.attempts + 1;
      const at = new Date().toISOString();
      if (result.ok) {
        const status: DeliveryStatus = { status: "delivered", attempts, at, error: null, nextAt: null };
        await this.o.ledger.recordAttempt(id, status, null);
        this.o.log.info("billing run delivered", { run: id, attempts });
        return status;
      }
      const wait = retryAfter(this.o.target, attempts, result.final);
      const status: DeliveryStatus = wait === null
        ? { status: "failed", attempts, at, error: result.error, nextAt: null }
        : { status: "waiting", attempts, at, error: result.error, nextAt: new Date(Date.now() + wait).toISOString() };
      await this.o.ledger.recordAttempt(id, status, wait);
      (wait === null ? this.o.log.error : this.o.log.warn)(wait === null ? "billing delivery dead" : "billing delivery failed, will retry", { run: id, attempts, error: result.error });
      return status;
    });
    return held.acquired ? held.value : ((await this.o.ledger.get(id))?.run.delivery ?? null);
  }

  /** An operator's redelivery (after a dead one, or again): waiting now with fresh attempts, and tried at once. */
  async redeliver(id: number): Promise<DeliveryStatus | null> {
    if (!(await this.o.ledger.requeueDelivery(id))) return null;
    return this.attempt(id);
  }
}
