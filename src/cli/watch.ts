import type { ServiceClient } from "./client.js";
import { progressBar } from "./format.js";

export interface StreamedEvent {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

/** Parses a text/event-stream body as it arrives, one event per callback. */
export async function readEventStream(body: ReadableStream<Uint8Array>, onEvent: (e: StreamedEvent) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      const lines = block.split("\n").filter((l) => !l.startsWith(":"));
      const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ""));
      const data = field("data");
      if (data.length === 0) continue;
      onEvent({ id: field("id")[0], event: field("event")[0] ?? "message", data: JSON.parse(data.join("\n")) as Record<string, unknown> });
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
    if (mode.json) process.stdout.write(`${JSON.stringify(e)}\n`);
    if (e.event === "started") label = `${String(e.data.stack)} ${String(e.data.kind)}`;
    if (e.event === "finished") result = e.data.result === "succeeded" ? "succeeded" : "failed";
    if (mode.json) return;
    if (mode.tty) {
      if (e.event === "resource") process.stdout.write(`\r${label} ${progressBar(Number(e.data.done), Number(e.data.total))} ${String(e.data.name)}`.padEnd(80));
      if (e.event === "retry") process.stdout.write(`\n  retry ${String(e.data.attempt)} in ${String(e.data.delayMs)} ms: ${String(e.data.error)}\n`);
      if (e.event === "finished") process.stdout.write(`\n${label}: ${String(e.data.result)}${e.data.error ? ` (${String(e.data.error)})` : ""}\n`);
    } else {
      if (e.event === "output") console.log(String(e.data.line));
      if (e.event === "retry") console.log(`retry ${String(e.data.attempt)} in ${String(e.data.delayMs)} ms: ${String(e.data.error)}`);
      if (e.event === "finished") console.log(`${label}: ${String(e.data.result)}${e.data.error ? ` (${String(e.data.error)})` : ""}`);
      if (e.event === "unavailable") console.log(String(e.data.reason));
    }
  });
  return result;
}
