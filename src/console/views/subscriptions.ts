import { useState } from "preact/hooks";
import { api, query } from "../api.js";
import { go } from "../route.js";
import type { SubscriptionList } from "../types.js";
import { html, link, Loading, PhaseBadge, useLoad, When } from "../ui.js";
import { PHASES, planText, STATUSES } from "../words.js";

/** The paged list, filtered by phase, status and a search of ids and customers (all in the address: a view can be shared). */
export function SubscriptionsView({ query: q }: { query: URLSearchParams }) {
  const phase = q.get("phase") ?? "";
  const status = q.get("status") ?? "";
  const search = q.get("search") ?? "";
  const cursor = q.get("cursor") ?? "";
  // One target's subscriptions (the fleet view's Targets links here); kept while filtering and paging.
  const target = q.get("target") ?? "";
  const [draft, setDraft] = useState({ phase, status, search, target });
  const loaded = useLoad(() => api.get<SubscriptionList>(`/v1/subscriptions${query({ phase, status, search, target, cursor, limit: 100 })}`), [phase, status, search, target, cursor]);
  const apply = (e: Event) => {
    e.preventDefault();
    go(`/subscriptions${query(draft)}`);
  };
  const set = (k: keyof typeof draft) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  return html`
    <h1 tabindex="-1">Subscriptions</h1>
    <form class="filters" role="search" onSubmit=${apply}>
      <div>
        <label for="f-phase">Phase</label>
        <select id="f-phase" value=${draft.phase} onChange=${set("phase")}>
          <option value="">any</option>
          ${Object.entries(PHASES).map(([p, meaning]) => html`<option value=${p} title=${meaning}>${p}</option>`)}
        </select>
      </div>
      <div>
        <label for="f-status">Status</label>
        <select id="f-status" value=${draft.status} onChange=${set("status")}>
          <option value="">any</option>
          ${Object.keys(STATUSES).map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </div>
      <div>
        <label for="f-search">Id or customer</label>
        <input id="f-search" type="search" value=${draft.search} onInput=${set("search")} placeholder="42, Example Ltd, ops@…" />
      </div>
      <button type="submit">Show</button>
    </form>
    <${Loading} loaded=${loaded}>${(list: SubscriptionList) => html`
      ${list.subscriptions.length === 0
        ? html`<p>No subscription matches.</p>`
        : html`<table class="subscriptions">
            <caption>${list.subscriptions.length} subscriptions on this page${phase ? `, phase ${phase}` : ""}${status ? `, status ${status}` : ""}${search ? `, matching “${search}”` : ""}${target ? `, in target ${target}` : ""}</caption>
            <thead><tr>
              <th scope="col">Id</th><th scope="col">Customer</th><th scope="col">Status</th><th scope="col">Phase</th>
              <th scope="col">Plan</th><th scope="col">Reason</th><th scope="col">Updated</th>
            </tr></thead>
            <tbody>${list.subscriptions.map((s) => html`
              <tr>
                <td><a href=${link(`/subscriptions/${s.id}`)}>${s.id}</a></td>
                <td>${s.customer.name}</td>
                <td>${s.status}</td>
                <td><${PhaseBadge} phase=${s.phase} /></td>
                <td>${planText(s.plan)}</td>
                <td class="reason">${s.lastError ?? ""}</td>
                <td><${When} at=${s.updatedAt} /></td>
              </tr>`)}
            </tbody>
          </table>`}
      <nav aria-label="Pages" class="pages">
        ${cursor && html`<a href=${link(`/subscriptions${query({ phase, status, search, target })}`)}>First page</a>`}
        ${list.nextCursor && html`<a href=${link(`/subscriptions${query({ phase, status, search, target, cursor: list.nextCursor })}`)}>Next page</a>`}
      </nav>
    `}<//>
  `;
}
