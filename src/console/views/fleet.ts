import { api } from "../api.js";
import type { CapacityList, DeadLetterList, DriftPage, Fleet, Health, Phase, RolloutList, SubscriptionList, TargetList } from "../types.js";
import { html, link, Loading, PhaseBadge, useLoad, When } from "../ui.js";
import { RolloutSummary } from "./rollouts.js";

/** What needs a person first: phases where a subscription waits for someone. */
const ATTENTION: Phase[] = ["failed", "held", "waiting"];

const load = async () => {
  const [fleet, health, attention, drift, dead, rollouts, targets, capacity] = await Promise.all([
    api.get<Fleet>("/v1/fleet"),
    api.get<Health>("/healthz"),
    Promise.all(ATTENTION.map((phase) => api.get<SubscriptionList>(`/v1/subscriptions?phase=${phase}&limit=50`))),
    api.get<DriftPage>("/v1/drift?state=drifted&limit=20"),
    api.get<DeadLetterList>("/v1/dead-letters?limit=10"),
    api.get<RolloutList>("/v1/rollouts"),
    api.get<TargetList>("/v1/targets"),
    api.get<CapacityList>("/v1/capacity"),
  ]);
  return { fleet, health, attention: attention.flatMap((p) => p.subscriptions), drift, dead, newest: rollouts.rollouts[0], targets: targets.targets, capacity: capacity.targets };
};

export function FleetView() {
  const loaded = useLoad(load, []);
  return html`
    <h1 tabindex="-1">Fleet</h1>
    <${Loading} loaded=${loaded}>${(d: Awaited<ReturnType<typeof load>>) => html`
      <section aria-labelledby="health-h">
        <h2 id="health-h">Health</h2>
        ${d.health.status === "ok"
          ? html`<p class="ok">Ready: nothing is missing to provision.</p>`
          : html`<p class="warn">Degraded: the service cannot provision until these are fixed:</p>
              <ul class="missing">${(d.health.missing ?? []).map((m) => html`<li>${m}</li>`)}</ul>`}
      </section>

      <section aria-labelledby="phases-h">
        <h2 id="phases-h">Subscriptions by phase</h2>
        <table class="counts">
          <caption>${d.fleet.total} subscriptions</caption>
          <thead><tr><th scope="col">Phase</th><th scope="col" class="num">Subscriptions</th></tr></thead>
          <tbody>
            ${Object.entries(d.fleet.phases).map(([phase, n]) => html`
              <tr><th scope="row"><a href=${link(`/subscriptions?phase=${phase}`)}><${PhaseBadge} phase=${phase} /></a></th><td class="num">${n}</td></tr>`)}
          </tbody>
        </table>
      </section>

      ${d.targets.length > 1 && html`
        <section aria-labelledby="targets-h">
          <h2 id="targets-h">Targets</h2>
          <table>
            <caption>Sold of sellable per resource (Placement's capacity × the target's selling policy)</caption>
            <thead><tr><th scope="col">Target</th><th scope="col">Region</th><th scope="col">Answers</th><th scope="col" class="num">vCPUs</th><th scope="col" class="num">RAM (GB)</th><th scope="col" class="num">Disk (GB)</th></tr></thead>
            <tbody>${d.targets.map((t) => {
              const c = d.capacity.find((x) => x.target === t.name);
              const cell = (r: "VCPU" | "MEMORY_MB" | "DISK_GB", div = 1) => (c ? `${Math.round((c.sold[r] ?? 0) / div)} / ${c.sellable ? Math.round((c.sellable[r] ?? 0) / div) : "?"}` : "—");
              return html`
              <tr>
                <th scope="row"><a href=${link(`/subscriptions?target=${t.name}`)}>${t.label}</a></th>
                <td>${t.region}</td>
                <td class=${t.problem ? "warn" : "ok"}>${t.problem ?? "yes"}</td>
                <td class="num">${cell("VCPU")}</td><td class="num">${cell("MEMORY_MB", 1024)}</td><td class="num">${cell("DISK_GB")}</td>
              </tr>`;
            })}</tbody>
          </table>
        </section>`}

      <section aria-labelledby="attention-h">
        <h2 id="attention-h">Failing and held</h2>
        ${d.attention.length === 0
          ? html`<p>No subscription is failed, held or waiting.</p>`
          : html`<table>
              <thead><tr><th scope="col">Subscription</th><th scope="col">Customer</th><th scope="col">Phase</th><th scope="col">Reason</th><th scope="col">Since</th></tr></thead>
              <tbody>${d.attention.map((s) => html`
                <tr>
                  <td><a href=${link(`/subscriptions/${s.id}`)}>${s.id}</a></td>
                  <td>${s.customer.name}</td>
                  <td><${PhaseBadge} phase=${s.phase} /></td>
                  <td class="reason">${s.lastError ?? "—"}</td>
                  <td><${When} at=${s.updatedAt} /></td>
                </tr>`)}
              </tbody>
            </table>`}
      </section>

      ${d.fleet.unreadable.length > 0 && html`
        <section aria-labelledby="unreadable-h">
          <h2 id="unreadable-h">Records that cannot be read</h2>
          <p class="warn">Set aside: left out of lists, billing runs and operations until repaired.</p>
          <ul>${d.fleet.unreadable.map((u) => html`
            <li>${u.subscription}, since <${When} at=${u.since} />: <span class="reason">${u.reason}</span></li>`)}</ul>
        </section>`}

      <section aria-labelledby="drift-h">
        <h2 id="drift-h">Drift findings</h2>
        <p>${d.fleet.drifted} stacks differ from what they declare.</p>
        ${d.drift.drift.length > 0 && html`<ul>${d.drift.drift.map((x) => html`
          <li><a href=${link(`/subscriptions/${x.subscriptionId}`)}>${x.subscriptionId}</a>:${" "}
            ${x.differences.map((f) => `${f.resource} (${f.properties.join(", ") || f.change})`).join("; ")}, checked <${When} at=${x.checkedAt} /></li>`)}</ul>`}
      </section>

      <section aria-labelledby="dead-h">
        <h2 id="dead-h">Dead letters</h2>
        <p>${d.fleet.deadLetters} reconcile jobs failed for good${d.dead.deadLetters.length > 0 ? "; the newest:" : "."}</p>
        ${d.dead.deadLetters.length > 0 && html`<ul>${d.dead.deadLetters.map((x) => html`
          <li><a href=${link(`/subscriptions/${x.subscription}`)}>${x.subscription}</a> after ${x.attempts} attempts, <${When} at=${x.failedAt} />: <span class="reason">${x.error}</span></li>`)}</ul>`}
      </section>

      ${d.fleet.outbox && html`
        <section aria-labelledby="outbox-h">
          <h2 id="outbox-h">Cloudesire outbox</h2>
          <dl class="facts">
            <dt>Calls waiting</dt><dd>${d.fleet.outbox.waiting}</dd>
            <dt>Oldest waiting</dt><dd>${Math.round(d.fleet.outbox.oldestWaitingSeconds)} s</dd>
            <dt>Held</dt><dd>${d.fleet.outbox.held}</dd>
            <dt>Dead</dt><dd>${d.fleet.outbox.dead}</dd>
          </dl>
        </section>`}

      <section aria-labelledby="rollout-h">
        <h2 id="rollout-h">Newest rollout</h2>
        ${d.newest ? html`<${RolloutSummary} rollout=${d.newest} />` : html`<p>No rollout yet.</p>`}
      </section>
    `}<//>
  `;
}
