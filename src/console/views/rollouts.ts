import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api.js";
import type { Rollout, RolloutDetail, RolloutList, RolloutPlan, Session } from "../types.js";
import { can, Failure, html, link, Loading, useLoad, When } from "../ui.js";

/** A rollout in one line: its state, its wave and why it stopped (the fleet view shows the newest). */
export const RolloutSummary = ({ rollout: r }: { rollout: Rollout }) => html`
  <p><a href=${link(`/rollouts/${r.id}`)}>Rollout ${r.id}</a>: <span class=${`badge rollout-${r.state}`}>${r.state}</span>,
    wave ${r.wave} of ${r.waves.length} (${r.waves.map((w) => `${w}%`).join(", ")})${r.reason ? `: ${r.reason}` : ""}; started${r.startedBy ? ` by ${r.startedBy}` : ""} <${When} at=${r.createdAt} /></p>`;

const Groups = ({ groups }: { groups: RolloutPlan["groups"] }) =>
  groups.length === 0
    ? html`<p>No stack would change.</p>`
    : html`<table>
        <thead><tr><th scope="col" class="num">Stacks</th><th scope="col">Changes</th><th scope="col">For example</th></tr></thead>
        <tbody>${groups.map((g) => html`
          <tr><td class="num">${g.count}</td><td><ul class="plain">${g.changes.map((c) => html`<li><code>${c}</code></li>`)}</ul></td>
            <td>${g.examples.map((e, i) => html`${i > 0 ? ", " : ""}<a href=${link(`/subscriptions/${e}`)}>${e}</a>`)}</td></tr>`)}
        </tbody>
      </table>`;

/** Rollouts: the plan (what would change, grouped), the list, one rollout's waves with pause, resume, abort. */
export function RolloutsView({ id, session }: { id: string | undefined; session: Session }) {
  return id ? html`<${OneRollout} id=${id} session=${session} />` : html`<${AllRollouts} session=${session} />`;
}

function AllRollouts({ session }: { session: Session }) {
  const list = useLoad(() => api.get<RolloutList>("/v1/rollouts"), []);
  const [plan, setPlan] = useState<RolloutPlan | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const operator = can(session.role, "operator");
  const planIt = async () => {
    setError(undefined);
    try {
      setPlan(await api.post<RolloutPlan>("/v1/rollouts/plan"));
    } catch (e) {
      setError(`Planning refused: ${errorText(e)}`);
    }
  };
  const start = async () => {
    setError(undefined);
    try {
      const r = await api.post<Rollout>("/v1/rollouts", {});
      location.hash = `/rollouts/${r.id}`;
    } catch (e) {
      setError(`Start refused: ${errorText(e)}`);
    }
  };
  return html`
    <h1 tabindex="-1">Rollouts</h1>
    ${operator && html`
      <section aria-labelledby="plan-h">
        <h2 id="plan-h">Plan</h2>
        <p>What a rollout would change: ready stacks whose declaration differs from what the service now declares.</p>
        <button type="button" onClick=${planIt}>Plan a rollout</button>
        ${plan && html`
          <p>${plan.changing} of ${plan.total} ready stacks would change (program ${plan.programVersion}).</p>
          <${Groups} groups=${plan.groups} />
          ${plan.changing > 0 && html`<button type="button" onClick=${start}>Start the rollout (waves 1%, 10%, 100%)</button>`}`}
        <${Failure} error=${error} />
      </section>`}
    <section aria-labelledby="list-h">
      <h2 id="list-h">Rollouts, newest first</h2>
      <${Loading} loaded=${list}>${(l: RolloutList) =>
        l.rollouts.length === 0 ? html`<p>No rollout yet.</p>` : html`<ul class="plain">${l.rollouts.map((r) => html`<li><${RolloutSummary} rollout=${r} /></li>`)}</ul>`}<//>
    </section>
  `;
}

const MOVING = new Set(["running", "pausing"]);

function OneRollout({ id, session }: { id: string; session: Session }) {
  const loaded = useLoad(() => api.get<RolloutDetail>(`/v1/rollouts/${encodeURIComponent(id)}`), [id]);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const r = loaded.data;
  // A moving rollout is looked at again every second.
  useEffect(() => {
    if (!r || !MOVING.has(r.state)) return;
    const t = setTimeout(loaded.reload, 1000);
    return () => clearTimeout(t);
  }, [r]);
  const act = (what: "pause" | "resume" | "abort") => async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api.post<Rollout>(`/v1/rollouts/${encodeURIComponent(id)}/${what}`, what === "resume" ? {} : undefined);
      loaded.reload();
    } catch (e) {
      setError(`${what} refused: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <p class="crumbs"><a href="#/rollouts">Rollouts</a> › ${id}</p>
    <h1 tabindex="-1">Rollout ${id}</h1>
    <${Loading} loaded=${loaded}>${(d: RolloutDetail) => html`
      <${RolloutSummary} rollout=${d} />
      ${can(session.role, "operator") && html`
        <section aria-labelledby="ractions-h" class="actions">
          <h2 id="ractions-h">Actions</h2>
          ${MOVING.has(d.state) && html`<button type="button" disabled=${busy} onClick=${act("pause")}>Pause</button>`}
          ${d.state === "halted" && html`<button type="button" disabled=${busy} onClick=${act("resume")}>Resume</button>`}
          ${(MOVING.has(d.state) || d.state === "halted") && html`<button type="button" disabled=${busy} onClick=${act("abort")}>Abort</button>`}
          <${Failure} error=${error} />
        </section>`}
      <section aria-labelledby="waves-h">
        <h2 id="waves-h">Waves</h2>
        <table>
          <thead><tr><th scope="col">Wave</th><th scope="col" class="num">Stacks</th><th scope="col">Progress</th><th scope="col">Waiting, queued, succeeded, failed, skipped</th></tr></thead>
          <tbody>${d.progress.map((w) => {
            const settled = w.stacks.succeeded + w.stacks.failed + w.stacks.skipped;
            return html`<tr>
              <th scope="row">${w.wave}${w.wave === d.wave ? " (current)" : ""}</th>
              <td class="num">${w.size}</td>
              <td><progress max=${Math.max(w.size, 1)} value=${settled} aria-label=${`wave ${w.wave}: ${settled} of ${w.size} settled`}>${settled} of ${w.size}</progress> ${settled} of ${w.size}</td>
              <td>${w.stacks.waiting}, ${w.stacks.queued}, ${w.stacks.succeeded}, ${w.stacks.failed}, ${w.stacks.skipped}</td>
            </tr>`;
          })}</tbody>
        </table>
      </section>
      <section aria-labelledby="groups-h">
        <h2 id="groups-h">Changes</h2>
        <${Groups} groups=${d.groups} />
      </section>
      ${d.failures.length > 0 && html`
        <section aria-labelledby="failures-h">
          <h2 id="failures-h">Failed stacks</h2>
          <ul>${d.failures.map((f) => html`<li><a href=${link(`/subscriptions/${f.subscription}`)}>${f.subscription}</a> (wave ${f.wave}): ${f.reason ?? "no reason recorded"}</li>`)}</ul>
        </section>`}
    `}<//>
  `;
}
