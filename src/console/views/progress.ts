import { useEffect, useState } from "preact/hooks";
import type { ProgressEvent } from "../types.js";
import { printableDeep } from "../../domain/printable.js";
import { html } from "../ui.js";

type Data<E extends ProgressEvent["event"]> = Extract<ProgressEvent, { event: E }>["data"];

const LINES_KEPT = 12;

/**
 * An operation's live progress from the service's own stream (api/sse.ts): resources done of total, the
 * engine's last lines, the result. EventSource reconnects by itself with Last-Event-ID.
 */
export function LiveProgress({ subscription, operation, onFinished }: { subscription: string; operation: number; onFinished: () => void }) {
  const [done, setDone] = useState(0);
  const [total, setTotal] = useState<number | null>(null);
  const [lines, setLines] = useState<string[]>([]);
  const [state, setState] = useState("started");
  useEffect(() => {
    const source = new EventSource(`/v1/subscriptions/${encodeURIComponent(subscription)}/operations/${operation}/events`);
    const on = <E extends ProgressEvent["event"]>(event: E, f: (d: Data<E>) => void) =>
      source.addEventListener(event, (m) => f(printableDeep(JSON.parse((m as MessageEvent<string>).data)) as Data<E>));
    on("started", (d) => {
      setTotal(d.total);
      setState(`${d.kind} of ${d.stack} started`);
    });
    on("resource", (d) => {
      setDone(d.done);
      setTotal(d.total);
      setState(`${d.name}: ${d.state}`);
    });
    on("output", (d) => setLines((l) => [...l, d.line].slice(-LINES_KEPT)));
    on("retry", (d) => setState(`retrying (attempt ${d.attempt}): ${d.error}`));
    on("finished", (d) => {
      source.close();
      if (d.done !== null) setDone(d.done);
      setState(d.result === "succeeded" ? "finished: succeeded" : `finished: failed${d.error ? ` (${d.error})` : ""}`);
      onFinished();
    });
    on("unavailable", (d) => {
      source.close();
      setState(`not followed here: ${d.reason}`);
      onFinished();
    });
    return () => source.close();
  }, [subscription, operation]);
  return html`
    <section aria-labelledby="live-h" class="live">
      <h2 id="live-h">Operation ${operation} in progress</h2>
      <p><label for="live-bar">Resources done</label>
        <progress id="live-bar" max=${total ?? 1} value=${total === null ? undefined : done}>${done} of ${total ?? "?"}</progress>
        <span class="count">${done} of ${total ?? "?"}</span></p>
      <p role="status" class="live-state">${state}</p>
      ${lines.length > 0 && html`<pre class="log" aria-label="Engine output">${lines.join("\n")}</pre>`}
    </section>
  `;
}
