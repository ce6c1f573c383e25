/** Time as a sweep sees it; tests hand in a clock they move by hand. */
export interface SweepClock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: SweepClock = {
  now: Date.now,
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      t.unref();
      signal?.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      }
    }),
};

export interface SweepPace {
  /** At most this many checks at once. */
  concurrency: number;
  /** The checks' starts are spread evenly over this many milliseconds (0: as fast as the bound allows). */
  spreadMs: number;
}

/** When the i-th of n checks may start, from the sweep's start: evenly spaced, the first at once. */
export function startOffset(i: number, n: number, spreadMs: number): number {
  return n === 0 ? 0 : Math.floor((i * spreadMs) / n);
}

/**
 * Runs `work` over `items` in order, at most `pace.concurrency` at once, none before its evenly spaced
 * start: 10,000 stacks over an hour is one start every 360 ms, so the cloud sees a trickle, not a burst at
 * the top of every hour, and the sweep ends within about the interval (when the checks are fast enough
 * for the bound; slower ones only start later). After `signal` aborts nothing new starts; the results
 * are those of the checks that ran, in item order. A `work` that throws stops new starts and is rethrown
 * once the running ones are done.
 */
export async function paced<T, R>(items: readonly T[], work: (item: T) => Promise<R>, pace: SweepPace, o: { clock?: SweepClock; signal?: AbortSignal } = {}): Promise<R[]> {
  const clock = o.clock ?? realClock;
  const start = clock.now();
  const results: Array<{ done: true; value: R } | undefined> = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const stopped = () => failure !== undefined || o.signal?.aborted === true;
  const worker = async () => {
    while (!stopped() && next < items.length) {
      const i = next++;
      const wait = start + startOffset(i, items.length, pace.spreadMs) - clock.now();
      if (wait > 0) await clock.sleep(wait, o.signal);
      if (stopped()) return;
      try {
        results[i] = { done: true, value: await work(items[i] as T) };
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(pace.concurrency, items.length)) }, worker));
  if (failure) throw failure.error;
  return results.flatMap((r) => (r ? [r.value] : []));
}

/** A bound on concurrent calls (the engine's refresh previews: each runs a Pulumi CLI and the provider). */
export function limiter(n: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((r) => waiting.push(r));
    else running++;
    try {
      return await fn();
    } finally {
      const wake = waiting.shift();
      if (wake) wake();
      else running--;
    }
  };
}
