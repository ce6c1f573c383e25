import { useEffect, useState } from "preact/hooks";
import { api, ApiError, errorText } from "../api.js";
import type { Accepted, AuditPage, History, Preview, Session, SubscriptionDetail } from "../types.js";
import { can, Failure, html, Loading, PhaseBadge, useLoad, When } from "../ui.js";
import { planText } from "../words.js";
import { LiveProgress } from "./progress.js";

/** One line of the timeline: a stack update (the stack history) or an audited action, newest first. */
interface Moment {
  at: string;
  what: string;
  who: string | null;
  result: string;
  source: "stack" | "audit";
}

const path = (id: string) => `/v1/subscriptions/${encodeURIComponent(id)}`;

async function timelineOf(id: string): Promise<{ moments: Moment[]; gaps: string[] }> {
  const gaps: string[] = [];
  const [history, audit] = await Promise.all([
    api.get<History>(`${path(id)}/history`).catch((e: unknown) => {
      gaps.push(`The stack history could not be read: ${errorText(e)}`);
      return null;
    }),
    api.get<AuditPage>(`/v1/audit?subscription=${encodeURIComponent(id)}`).catch((e: unknown) => {
      // A service without the audit trail (404) has only the stack history.
      if (!(e instanceof ApiError && e.status === 404)) gaps.push(`The audit trail could not be read: ${errorText(e)}`);
      return null;
    }),
  ]);
  const moments: Moment[] = [
    ...(history?.history ?? []).map((h) => ({ at: h.startTime, what: `${h.kind}: ${h.message}`, who: null, result: h.result, source: "stack" as const })),
    ...(audit?.items ?? []).map((a) => ({ at: a.at, what: a.action, who: a.actor, result: a.result, source: "audit" as const })),
  ];
  moments.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return { moments, gaps };
}

/** Phases in which an operation is coming or under way: the view looks again until it can follow it. */
const MOVING = new Set(["pending", "applying"]);

export function SubscriptionView({ id, session }: { id: string; session: Session }) {
  const detail = useLoad(() => api.get<SubscriptionDetail>(path(id)), [id]);
  const timeline = useLoad(() => timelineOf(id), [id, detail.data?.updatedAt]);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [preview, setPreview] = useState<Preview | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const sub = detail.data;
  const running = sub?.operations.find((o) => o.result === "running");

  // Queued but not begun yet: looked at again every second, until its operation can be followed live;
  // while one runs, every few seconds too (one run by another replica has no live stream here).
  useEffect(() => {
    if (!sub || !(running || MOVING.has(sub.phase))) return;
    const t = setTimeout(detail.reload, running ? 5000 : 1000);
    return () => clearTimeout(t);
  }, [sub, running]);

  const act = async (label: string, f: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    try {
      setNotice(await f());
      detail.reload();
    } catch (e) {
      setError(`${label} refused: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };
  /** An action that queues a stack update: its answer says only that it is queued (the live progress shows the rest). */
  const queue = (label: string, action: string, done: string) => () =>
    act(label, async () => {
      await api.post<Accepted>(`${path(id)}/${action}`);
      return done;
    });
  const retry = queue("Retry", "retry", "Retry queued: the stack is updated again.");
  const rotate = queue("Password rotation", "rotate-password", "Password rotation queued.");
  const repair = queue("Drift repair", "drift/repair", "Drift repair queued.");
  const showPreview = () =>
    act("Preview", async () => {
      setPreview(await api.post<Preview>(`${path(id)}/preview`));
      return "Preview below.";
    });

  return html`
    <p class="crumbs"><a href="#/subscriptions">Subscriptions</a> › ${id}</p>
    <h1 tabindex="-1">Subscription ${id}</h1>
    <${Loading} loaded=${detail}>${(s: SubscriptionDetail) => html`
      <p class="state"><${PhaseBadge} phase=${s.phase} /> status ${s.status}, generation ${s.appliedGeneration} of ${s.generation} applied</p>
      ${s.lastError && html`<p class="reason-box"><strong>Reason: </strong>${s.lastError}</p>`}

      ${can(session.role, "operator") && s.status !== "cancelled" && html`
        <section aria-labelledby="actions-h" class="actions">
          <h2 id="actions-h">Actions</h2>
          <button type="button" disabled=${busy} onClick=${retry}>Retry</button>
          <button type="button" disabled=${busy} onClick=${rotate}>Rotate password</button>
          ${s.drift?.state === "drifted" && html`<button type="button" disabled=${busy} onClick=${repair}>Repair drift</button>`}
          <button type="button" disabled=${busy} onClick=${showPreview}>Preview</button>
          <p role="status">${notice ?? ""}</p>
          <${Failure} error=${error} />
        </section>`}

      ${running && html`<${LiveProgress} key=${running.id} subscription=${s.id} operation=${running.id} onFinished=${detail.reload} />`}

      ${preview && html`
        <section aria-labelledby="preview-h">
          <h2 id="preview-h">Preview of ${preview.stack}</h2>
          <p>${Object.entries(preview.changeSummary).map(([k, n]) => `${k}: ${n}`).join(", ") || "no change"}</p>
          <pre class="diff">${preview.text}</pre>
        </section>`}

      <div class="columns">
        <section aria-labelledby="plan-h">
          <h2 id="plan-h">Plan and customer</h2>
          <dl class="facts">
            <dt>Plan</dt><dd>${planText(s.plan)}</dd>
            <dt>Customer</dt><dd>${s.customer.name} (${s.customer.id})</dd>
            <dt>Email</dt><dd>${s.customer.email ?? "—"}</dd>
            <dt>Stack</dt><dd><code>${s.stack}</code></dd>
            <dt>Last event</dt><dd>${s.lastEvent.type} (${s.lastEvent.id}), <${When} at=${s.lastEvent.occurredAt} /></dd>
          </dl>
        </section>
        <section aria-labelledby="outputs-h">
          <h2 id="outputs-h">Outputs</h2>
          ${s.outputs
            ? html`<dl class="facts">
                <dt>Project</dt><dd><code>${s.outputs.projectId}</code></dd>
                <dt>User</dt><dd><code>${s.outputs.userName}</code> (<code>${s.outputs.userId}</code>)</dd>
                <dt>Auth URL</dt><dd><code>${s.outputs.authUrl}</code></dd>
                <dt>Region</dt><dd>${s.outputs.region}</dd>
                <dt>Domain</dt><dd><code>${s.outputs.domainId}</code></dd>
              </dl>`
            : html`<p>Not provisioned yet.</p>`}
        </section>
      </div>

      ${s.drift && html`
        <section aria-labelledby="drift-h">
          <h2 id="drift-h">Drift</h2>
          <p>Last check <${When} at=${s.drift.checkedAt} />: ${s.drift.state}${s.drift.error ? ` (${s.drift.error})` : ""}</p>
          ${s.drift.differences.length > 0 && html`<ul>${s.drift.differences.map((d) => html`<li>${d.resource} (${d.type}): ${d.change} ${d.properties.join(", ")}</li>`)}</ul>`}
        </section>`}
    `}<//>

    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <${Loading} loaded=${timeline}>${(t: Awaited<ReturnType<typeof timelineOf>>) => html`
        ${t.gaps.map((g) => html`<p class="warn">${g}</p>`)}
        ${t.moments.length === 0
          ? html`<p>Nothing yet.</p>`
          : html`<table class="timeline">
              <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Result</th></tr></thead>
              <tbody>${t.moments.map((m) => html`
                <tr class=${m.source}>
                  <td><${When} at=${m.at} /></td><td>${m.what}</td><td>${m.who ?? (m.source === "stack" ? "the service" : "—")}</td><td>${m.result}</td>
                </tr>`)}
              </tbody>
            </table>`}
      `}<//>
    </section>
  `;
}
