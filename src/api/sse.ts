import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { ProgressHub, ProgressItem } from "../provisioning/progress.js";
import type { OperationRecord } from "../domain/lifecycle.js";

/**
 * What the stream carries, by event name (tenantctl watch reads it): the live progress items; for an
 * operation not held here, its stored end (`done` and `total` unknown) or why it cannot be followed.
 */
export type OperationEvent =
  | { [K in ProgressItem["type"]]: { event: K; data: Extract<ProgressItem, { type: K }>["data"] } }[ProgressItem["type"]]
  | { event: "finished"; data: { result: OperationRecord["result"]; error: string | null; done: null; total: null } }
  | { event: "unavailable"; data: { reason: string } };

/** Keeps idle connections (and the proxies between) open while an engine step takes long. */
const HEARTBEAT_MS = 15_000;
/**
 * How often a stream checks that its reader may still read it: an operator logged out or revoked stops
 * reading within this time (a stream opened before outlived both: issue 31).
 */
const RECHECK_MS = 2_000;

/**
 * Streams one operation's progress as Server-Sent Events: the buffered items after Last-Event-ID,
 * then live ones until `finished`. An operation this process does not hold (run by another replica,
 * or finished long ago) gets a single `finished` event from its stored result.
 */
export function operationEvents(
  c: Context,
  o: { progress: ProgressHub; operation: OperationRecord; lastEventId: string | undefined; /** Whether the reader's credentials still hold. */ stillAllowed: () => Promise<boolean> },
): Response {
  const after = Number.parseInt(o.lastEventId ?? "0", 10);
  return streamSSE(c, async (stream) => {
    const send = (item: ProgressItem) => stream.writeSSE({ id: String(item.seq), event: item.type, data: JSON.stringify(item.data) });
    const queue: ProgressItem[] = [];
    let wake: (() => void) | undefined;
    const followed = o.progress.follow(o.operation.id, Number.isFinite(after) ? after : 0, (item) => {
      queue.push(item);
      wake?.();
    });
    if (!followed) {
      if (o.operation.result !== "running") {
        await stream.writeSSE({
          id: "final", event: "finished",
          data: JSON.stringify({ result: o.operation.result, error: o.operation.error, done: null, total: null } satisfies OperationEvent["data"]),
        });
      } else {
        await stream.writeSSE({ event: "unavailable", data: JSON.stringify({ reason: "the operation runs in another replica of the service, or was interrupted" } satisfies OperationEvent["data"]) });
      }
      return;
    }
    let aborted = false;
    stream.onAbort(() => {
      aborted = true;
      followed.stop();
      wake?.();
    });
    let checkedAt = Date.now();
    let lastWrite = Date.now();
    try {
      for (const item of followed.backlog) await send(item);
      if (followed.finished || followed.backlog.some((i) => i.type === "finished")) return;
      for (;;) {
        if (Date.now() - checkedAt >= RECHECK_MS) {
          checkedAt = Date.now();
          if (!(await o.stillAllowed())) {
            await stream.writeSSE({ event: "unavailable", data: JSON.stringify({ reason: "the session has ended (logged out, expired or revoked): log in again to follow the operation" } satisfies OperationEvent["data"]) });
            return;
          }
        }
        while (queue.length > 0) {
          const item = queue.shift() as ProgressItem;
          await send(item);
          lastWrite = Date.now();
          if (item.type === "finished") return;
        }
        if (aborted) return;
        const timer = setTimeout(() => wake?.(), RECHECK_MS);
        await new Promise<void>((r) => (wake = r));
        clearTimeout(timer);
        wake = undefined;
        if (queue.length === 0 && !aborted && Date.now() - lastWrite >= HEARTBEAT_MS) {
          await stream.write(": keep-alive\n\n");
          lastWrite = Date.now();
        }
      }
    } finally {
      followed.stop();
    }
  });
}
