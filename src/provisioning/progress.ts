import { TENANT_RESOURCES } from "../domain/tenant-spec.js";
import type { ResourceProgress } from "./engine.js";

/**
 * One item of an operation's live stream. `seq` numbers items from 1 within an operation, so a client
 * that reconnects with Last-Event-ID misses nothing still buffered and sees nothing twice.
 */
export type ProgressItem =
  | { seq: number; type: "started"; data: { operation: number; subscription: string; stack: string; kind: string; total: number } }
  | { seq: number; type: "output"; data: { line: string } }
  | { seq: number; type: "resource"; data: ResourceProgress & { done: number; total: number } }
  | { seq: number; type: "retry"; data: { attempt: number; delayMs: number; error: string } }
  | { seq: number; type: "finished"; data: { result: "succeeded" | "failed"; error: string | null; done: number; total: number } };

type Body<T extends ProgressItem["type"]> = Extract<ProgressItem, { type: T }>["data"];

interface Stream {
  items: ProgressItem[];
  /** Items dropped from the front when the buffer is full (a very chatty engine). */
  dropped: number;
  seq: number;
  done: Set<string>;
  total: number;
  finished: boolean;
  listeners: Set<(item: ProgressItem) => void>;
}

/**
 * The live progress of stack operations in this process, for Server-Sent Events. It is memory only on
 * purpose: progress is a view of work running here now; what lasts (the result, the stack history) is in
 * the store and in Pulumi. Finished streams are kept for a while so a late client still sees the end.
 */
export class ProgressHub {
  private readonly streams = new Map<number, Stream>();

  constructor(private readonly limits = { itemsPerOperation: 5000, finishedKept: 200 }) {}

  open(operation: number, meta: { subscription: string; stack: string; kind: string }): void {
    const total = TENANT_RESOURCES.length;
    this.streams.set(operation, { items: [], dropped: 0, seq: 0, done: new Set(), total, finished: false, listeners: new Set() });
    this.push(operation, "started", { operation, ...meta, total });
  }

  output(operation: number, line: string): void {
    this.push(operation, "output", { line: line.replace(/\n$/, "") });
  }

  resource(operation: number, p: ResourceProgress): void {
    const s = this.streams.get(operation);
    if (!s) return;
    if (p.state === "done") s.done.add(p.name);
    this.push(operation, "resource", { ...p, done: s.done.size, total: s.total });
  }

  retry(operation: number, data: Body<"retry">): void {
    this.push(operation, "retry", data);
  }

  finish(operation: number, result: "succeeded" | "failed", error: string | null): void {
    const s = this.streams.get(operation);
    if (!s || s.finished) return;
    this.push(operation, "finished", { result, error, done: s.done.size, total: s.total });
    s.finished = true;
    s.listeners.clear();
    this.evictFinished();
  }

  /**
   * Items after `afterSeq` and, while the operation runs, every new one through `listener`.
   * Null when this process holds no stream for the operation (not run here, or long finished).
   */
  follow(operation: number, afterSeq: number, listener: (item: ProgressItem) => void): { backlog: ProgressItem[]; finished: boolean; stop: () => void } | null {
    const s = this.streams.get(operation);
    if (!s) return null;
    const backlog = s.items.filter((i) => i.seq > afterSeq);
    if (s.finished) return { backlog, finished: true, stop: () => {} };
    s.listeners.add(listener);
    return { backlog, finished: false, stop: () => s.listeners.delete(listener) };
  }

  private push<T extends ProgressItem["type"]>(operation: number, type: T, data: Body<T>): void {
    const s = this.streams.get(operation);
    if (!s || s.finished) return;
    const item = { seq: ++s.seq, type, data } as ProgressItem;
    s.items.push(item);
    if (s.items.length > this.limits.itemsPerOperation) {
      s.items.shift();
      s.dropped++;
    }
    for (const l of s.listeners) l(item);
  }

  private evictFinished(): void {
    const finished = [...this.streams.entries()].filter(([, s]) => s.finished);
    for (const [id] of finished.slice(0, Math.max(0, finished.length - this.limits.finishedKept))) this.streams.delete(id);
  }
}
