/**
 * Paces calls to Cloudesire on its rate limiter's own headers (response/Headers: `X-Rate-Limit-Remaining`
 * on every answer, `X-Rate-Limit-Retry-After-Milliseconds` with a 429), so that calls stop before the 429
 * rather than after it. Cloudesire publishes neither its limit nor its window: once the remaining calls
 * reach 0, calls wait the retry-after it gave, or `pauseMs` without one; calls already on their way count
 * against what remains. One gate per client (per process: replicas each pace their own calls).
 */
export class RateGate {
  private remaining = Number.POSITIVE_INFINITY;
  private inFlight = 0;
  private resumeAt = 0;

  constructor(
    private readonly pauseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Waits until a call may go, and counts it as on its way. */
  async take(): Promise<void> {
    for (;;) {
      const wait = this.resumeAt - this.now();
      if (wait > 0) await sleep(wait);
      else if (this.remaining - this.inFlight > 0) break;
      else if (this.inFlight > 0) await sleep(10); // their answers say what remains
      else this.remaining = Number.POSITIVE_INFINITY; // paused long enough: a new window
    }
    this.inFlight++;
  }

  /** The answer of a call taken: what Cloudesire says remains, and how long to wait when nothing does. */
  answered(headers: Headers | null): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (!headers) return;
    const remaining = headers.get("x-rate-limit-remaining");
    const retryMs = Number(headers.get("x-rate-limit-retry-after-milliseconds"));
    if (remaining !== null && remaining.trim() !== "" && Number.isFinite(Number(remaining))) this.remaining = Number(remaining);
    if (this.remaining <= 0 || (Number.isFinite(retryMs) && retryMs > 0)) {
      this.resumeAt = Math.max(this.resumeAt, this.now() + Math.min(60_000, Number.isFinite(retryMs) && retryMs > 0 ? retryMs : this.pauseMs));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
