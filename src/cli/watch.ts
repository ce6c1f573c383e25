import type { OperationEvent } from "../api/sse.js";
import type { ServiceClient } from "./client.js";
import { printable, progressBar, say } from "./format.js";

/** One event of an operation's stream, as api/sse.ts sends it. */
export type StreamedEvent = OperationEvent & { id: string | undefined };

/** Parses a text/event-stream body as it arrives, one event per callback. */
export async function readEventStream(body: ReadableStream<Uint8Array>, onEvent: (e: StreamedEvent) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let at = buffer.indexOf("\n\n"); at >= 0; at = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      const lines = block.split("\n").filter((l) => !l.startsWith(":"));
      const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ""));
      const data = field("data");
      if (data.length === 0) continue;
      // The service's own stream (api/sse.ts): its event names and data are OperationEvent's.
      onEvent({ id: field("id")[0], event: field("event")[0] ?? "message", data: JSON.parse(data.join("\n")) } as StreamedEvent);
    }
  }
}

/**
 * Follows an operation: on a terminal, one progress line (resources done / total) redrawn in place;
 * otherwise the engine's output lines; with --json, every event as a JSON line. Resolves to the result.
 */
export async function watchOperation(client: ServiceClient, subscription: string, operation: number, mode: { json: boolean; tty: boolean }): Promise<"succeeded" | "failed" | "unknown"> {
  const res = await client.request("GET", `/v1/subscriptions/${encodeURIComponent(subscription)}/operations/${operation}/events`, {
    headers: { accept: "text/event-stream" },
  });
  let result: "succeeded" | "failed" | "unknown" = "unknown";
  let label = `operation ${operation}`;
  await readEventStream(res.body as ReadableStream<Uint8Array>, (e) => {
    if (mode.json) process.stdout.write(`${printable(JSON.stringify(e))}\n`);
    if (e.event === "started") label = `${e.data.stack} ${e.data.kind}`;
    if (e.event === "finished") result = e.data.result === "succeeded" ? "succeeded" : "failed";
    if (mode.json) return;
    const ended = (f: Extract<OperationEvent, { event: "finished" }>["data"]) => `${label}: ${f.result}${f.error ? ` (${f.error})` : ""}`;
    if (mode.tty) {
      if (e.event === "resource") process.stdout.write(`\r${printable(`${label} ${progressBar(e.data.done, e.data.total)} ${e.data.name}`)}`.padEnd(80));
      if (e.event === "retry") process.stdout.write(`\n  retry ${e.data.attempt} in ${e.data.delayMs} ms: ${printable(e.data.error)}\n`);
      if (e.event === "finished") process.stdout.write(`\n${printable(ended(e.data))}\n`);
    } else {
      if (e.event === "output") say(e.data.line);
      if (e.event === "retry") say(`retry ${e.data.attempt} in ${e.data.delayMs} ms: ${e.data.error}`);
      if (e.event === "finished") say(ended(e.data));
      if (e.event === "unavailable") say(e.data.reason);
    }
  });
  return result;
}
