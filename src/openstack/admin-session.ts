import type { AdminCredentials } from "./credentials.js";
import { authenticate, type KeystoneSession } from "./keystone.js";

export interface AdminSessionOptions {
  fetchImpl?: typeof fetch;
  /** Milliseconds since the epoch; injected by tests to reach a token's expiry without waiting an hour. */
  now?: () => number;
  /** How long before its expiry a token is replaced (at most half its lifetime). */
  renewMarginMs?: number;
}

interface HeldSession extends KeystoneSession {
  /** On our own clock: when this token is replaced before any further request carries it. */
  renewAt: number;
}

const DEFAULT_RENEW_MARGIN_MS = 5 * 60_000;

/**
 * The admin's Keystone token for every call the service makes as the admin (the tenant guard's Nova,
 * Cinder and Neutron requests, Gnocchi). A Keystone token dies at its `expires_at` (`[token] expiration`,
 * one hour by default), and a revoked one (a password change, `DELETE /v3/auth/tokens`) earlier: so the
 * session logs in again a margin before the expiry, and once more when a service answers 401, as
 * keystoneauth does for the `openstack` CLI. Callers that find the token stale at the same moment share
 * one login.
 *
 * The expiry is read as a lifetime (`expires_at - issued_at`) counted from when the token arrived, so a
 * clock that differs from Keystone's neither renews every call nor keeps a dead token.
 */
export class AdminSession {
  /** The latest login, possibly still in flight. */
  private pending: Promise<HeldSession> | undefined;
  /** Its session, once it arrived (undefined while a login is in flight). */
  private held: HeldSession | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly marginMs: number;

  constructor(private readonly creds: AdminCredentials, o: AdminSessionOptions = {}) {
    this.fetchImpl = o.fetchImpl ?? fetch;
    this.now = o.now ?? Date.now;
    this.marginMs = o.renewMarginMs ?? DEFAULT_RENEW_MARGIN_MS;
  }

  /** A token (and its catalog) that is valid for at least the renewal margin. */
  current(): Promise<KeystoneSession> {
    // The first caller to find the token near its expiry starts the login; the others wait for it.
    if (!this.pending || (this.held && this.now() >= this.held.renewAt)) this.pending = this.login();
    return this.pending;
  }

  /**
   * `fetch` with the admin token in `x-auth-token`. On a 401 the token is replaced (once: a second 401 is
   * the caller's answer to handle). `timeoutMs` applies to each attempt.
   */
  async fetch(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
    const first = await this.current();
    const res = await this.send(url, init, timeoutMs, first.token);
    if (res.status !== 401) return res;
    await res.body?.cancel();
    const renewed = await this.renew(first.token);
    return this.send(url, init, timeoutMs, renewed.token);
  }

  /** The token held now, if a login arrived (no login is started). */
  peek(): string | undefined {
    return this.held?.token;
  }

  /** `stale` was refused by Keystone (revoked before its expiry): the next caller logs in again. */
  discard(stale: string): void {
    if (this.held?.token === stale) {
      this.held = undefined;
      this.pending = undefined;
    }
  }

  private send(url: string, init: RequestInit, timeoutMs: number, token: string): Promise<Response> {
    return this.fetchImpl(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), "x-auth-token": token }, signal: AbortSignal.timeout(timeoutMs) });
  }

  /** A session without the `stale` token: a login another caller already started, or a new one. */
  private renew(stale: string): Promise<KeystoneSession> {
    if (!this.pending || this.held?.token === stale) this.pending = this.login();
    return this.pending;
  }

  private login(): Promise<HeldSession> {
    this.held = undefined;
    const p: Promise<HeldSession> = authenticate(this.creds, this.fetchImpl).then(
      (s) => {
        const held = { ...s, renewAt: this.now() + s.lifetimeMs - Math.min(this.marginMs, s.lifetimeMs / 2) };
        if (this.pending === p) this.held = held;
        return held;
      },
      (e: unknown) => {
        if (this.pending === p) this.pending = undefined; // the next call tries again
        throw e;
      },
    );
    return p;
  }
}
