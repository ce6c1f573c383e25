import { AsyncLocalStorage } from "node:async_hooks";
import type { DbPriority } from "../provisioning/ports.js";

/**
 * Who goes first on the database when webhooks and background work (stack operations, job polling)
 * share it. The intake batcher and the wiring use it; the stores never see it: they only use `Db`.
 */
export interface Scheduler extends DbPriority {
  /**
   * Runs `fn` as foreground work: someone waits for its answer (a webhook's 202). What it sends to the
   * database skips the line of background work. Only what `fn` itself awaits: do not start long-lived
   * work inside it (it would inherit the priority).
   */
  foreground<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Foreground work is about to use the database: until the returned function is called, background
   * statements wait before they start, at most a second each (never starved).
   */
  holdBackground(): () => void;
}

/** PostgreSQL serves connections side by side: nothing to schedule. */
export const unscheduled: Scheduler = { foreground: (fn) => fn(), holdBackground: () => () => {}, ahead: (fn) => fn(), ordinary: (fn) => fn() };

const letLoopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The embedded database's scheduler. PGlite runs each statement on this thread, first come first served,
 * and resolves it without ever letting the event loop turn: a stream of statements (stack operations, job
 * polling) would leave sockets unread and webhooks queued behind it. So every statement or transaction
 * begun from outside a transaction is background work (`background`): it first lets the loop turn once
 * (requests are read and join the next intake batch), then takes its turn among background work, one at
 * a time (so that a webhook batch finds at most one ahead of it in PGlite's queue), and waits while
 * webhooks hold the gate. Work begun within `foreground` skips all this. Measured by
 * test/unit/store/db-turns.test.ts and bench/webhook.ts.
 */
export class EmbeddedScheduler implements Scheduler {
  private holders = 0;
  private readonly waiting = new Set<() => void>();
  private previousInLine: Promise<void> = Promise.resolve();
  // Marks the async context of `foreground` calls: the database is reached through stores that do not
  // know who is waiting, so the priority travels with the call rather than as a parameter.
  private readonly urgent = new AsyncLocalStorage<true>();
  private readonly customer = new AsyncLocalStorage<boolean>();

  foreground<T>(fn: () => Promise<T>): Promise<T> {
    return this.urgent.run(true, fn);
  }

  /**
   * A customer's stack operation: its statements do not wait for the event loop to turn before they go,
   * so that while a fleet's operations keep the loop busy each costs the customer no loop turn; they still
   * wait while webhooks hold the gate, and take their place in line.
   */
  ahead<T>(fn: () => Promise<T>): Promise<T> {
    return this.customer.run(true, fn);
  }

  ordinary<T>(fn: () => Promise<T>): Promise<T> {
    return this.customer.run(false, fn);
  }

  holdBackground(): () => void {
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holders === 0) for (const wake of [...this.waiting]) wake();
    };
  }

  /** How the embedded `Db` runs what is begun outside a transaction. */
  async background<T>(run: () => Promise<T>): Promise<T> {
    if (this.urgent.getStore()) return run();
    if (!this.customer.getStore()) await letLoopTurn();
    const previous = this.previousInLine;
    let done!: () => void;
    this.previousInLine = new Promise<void>((r) => (done = r));
    await previous;
    try {
      await this.gatePassed();
      return await run();
    } finally {
      done();
    }
  }

  private async gatePassed(maxWaitMs = 1000): Promise<void> {
    if (this.holders === 0) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxWaitMs);
      this.waiting.add(wake);
    });
  }
}
