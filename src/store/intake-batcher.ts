import { unscheduled, type Scheduler } from "./embedded-scheduler.js";
import type { EventIntake, IntakeItem } from "./subscription-store.js";

/** Takes events in, one transaction per call, results in the order given. */
export type TakeBatch = (items: readonly IntakeItem[]) => Promise<EventIntake[]>;

/**
 * Group commit for webhooks. While one batch's transaction runs, the events that arrive wait and go
 * together in the next: one transaction (and one commit) for many events, so a burst costs a few
 * statements per batch instead of per event. An idle service takes an event at once (no timer waits).
 * Each caller still gets its own result only after the transaction holding its event committed. Webhooks
 * come first on the database (`scheduler`; on the embedded store they share one thread with background
 * work): from the first waiting event to the last batch, background work is held back, and each batch
 * runs as foreground work.
 */
export class IntakeBatcher {
  private readonly waiting: Array<{ item: IntakeItem; resolve: (r: EventIntake) => void; reject: (e: unknown) => void }> = [];
  private draining = false;
  constructor(
    private readonly take: TakeBatch,
    private readonly o: {
      /** Told the size of every batch taken (a metric: how much group commit saves). */
      onBatch?: (events: number) => void;
      /** Who goes first on the database (the one `openDb` returned beside it). */
      scheduler?: Scheduler;
      maxBatch?: number;
    } = {},
  ) {}

  private get scheduler(): Scheduler {
    return this.o.scheduler ?? unscheduled;
  }

  submit(item: IntakeItem): Promise<EventIntake> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        const release = this.scheduler.holdBackground();
        setImmediate(() => void this.drain().finally(release));
      }
    });
  }

  /**
   * Runs batches until none waits. Each starts from `setImmediate`, after the event loop has read the
   * sockets: the embedded database runs on this thread and never yields during a transaction, so
   * requests that arrived meanwhile are parsed (and join the batch) only when we let the loop turn.
   */
  private async drain(): Promise<void> {
    try {
      for (; this.waiting.length > 0; await new Promise((r) => setImmediate(r))) {
        const batch = this.waiting.splice(0, this.o.maxBatch ?? 256);
        this.o.onBatch?.(batch.length);
        try {
          const results = await this.takeFirst(batch.map((w) => w.item));
          for (const [i, w] of batch.entries()) w.resolve(results[i]!);
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          // One event that the database refuses must not fail its neighbours: each again, alone.
          for (const w of batch) {
            try {
              const [result] = await this.takeFirst([w.item]);
              w.resolve(result!);
            } catch (e) {
              w.reject(e);
            }
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** A webhook waits for it: ahead of background work. */
  private takeFirst(items: IntakeItem[]): Promise<EventIntake[]> {
    return this.scheduler.foreground(() => this.take(items));
  }
}
