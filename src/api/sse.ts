import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { ProgressHub, ProgressItem } from "../provisioning/progress.js";
import type { OperationRecord } from "../domain/lifecycle.js";

/** Keeps idle connections (and the proxies between) open while an engine step takes long. */
const HEARTBEAT_MS = 15_000;

/**
 * Streams one operation's progress as Server-Sent Events: the buffered items after Last-Event-ID,
 * then live ones until `finished`. An operation this process does not hold (run by another replica,
 * or finished long ago) gets a single `finished` event from its stored result.
 */
export function operationEvents(c: Context, o: { progress: ProgressHub; operation: OperationRecord; lastEventId: string | undefined }): Response {
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
          data: JSON.stringify({ result: o.operation.result, error: o.operation.error, done: null, total: null }),
        });
      } else {
        await stream.writeSSE({ event: "unavailable", data: JSON.stringify({ reason: "the operation runs in another replica of the service, or was interrupted" }) });
      }
      return;
    }
    let aborted = false;
    stream.onAbort(() => {
      aborted = true;
      followed.stop();
      wake?.();
    });
    try {
      for (const item of followed.backlog) await send(item);
      if (followed.finished || followed.backlog.some((i) => i.type === "finished")) return;
      for (;;) {
        while (queue.length > 0) {
          const item = queue.shift() as ProgressItem;
          await send(item);
          if (item.type === "finished") return;
        }
        if (aborted) return;
        const timer = setTimeout(() => wake?.(), HEARTBEAT_MS);
        await new Promise<void>((r) => (wake = r));
        clearTimeout(timer);
        wake = undefined;
        if (queue.length === 0 && !aborted) await stream.write(": keep-alive\n\n");
      }
    } finally {
      followed.stop();
    }
  });
}
