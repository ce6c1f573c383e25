import { useState } from "preact/hooks";
import { api, ApiError, errorText } from "../api.js";
import type { BillingRunDetail, BillingRunList, Session } from "../types.js";
import { can, Failure, html, link, Loading, useLoad, When } from "../ui.js";

/** Billing: runs, one run's invoices per subscription, its CSV; admins bill a closed month. */
export function BillingView({ id, session }: { id: string | undefined; session: Session }) {
  return id ? html`<${OneRun} id=${id} />` : html`<${Runs} session=${session} />`;
}

const lastMonth = () => {
  const d = new Date();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - 1);
  return d.toISOString().slice(0, 7);
};

function Runs({ session }: { session: Session }) {
  const runs = useLoad(
    () =>
      api.get<BillingRunList>("/v1/billing-runs").catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return null; // billing is not configured here
        throw e;
      }),
    [],
  );
  const [period, setPeriod] = useState(lastMonth());
  const [error, setError] = useState<string | undefined>(undefined);
  const bill = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.post("/v1/billing-runs", { period });
      runs.reload();
    } catch (err) {
      setError(`Billing refused: ${errorText(err)}`);
    }
  };
  return html`
    <h1 tabindex="-1">Billing</h1>
    <${Loading} loaded=${runs}>${(list: BillingRunList | null) =>
      list === null
        ? html`<p>Billing is not configured on this service (PRICES_FILE, GNOCCHI_URL).</p>`
        : html`
          ${can(session.role, "admin") && html`
            <form class="filters" onSubmit=${bill}>
              <div><label for="period">Month to bill</label>
                <input id="period" type="month" required value=${period} onInput=${(ev: Event) => setPeriod((ev.target as HTMLInputElement).value)} /></div>
              <button type="submit">Bill the month</button>
            </form>
            <${Failure} error=${error} />`}
          ${list.runs.length === 0
            ? html`<p>No billing run yet.</p>`
            : html`<table>
                <thead><tr><th scope="col">Run</th><th scope="col">Period</th><th scope="col" class="num">Invoices</th><th scope="col" class="num">Total</th><th scope="col">Delivered</th><th scope="col">Made</th></tr></thead>
                <tbody>${list.runs.map((r) => html`
                  <tr><td><a href=${link(`/billing/${r.id}`)}>Run ${r.id}</a></td><td>${r.period}</td><td class="num">${r.invoiceCount}</td>
                    <td class="num">${r.total} ${r.currency}</td><td>${r.delivery ? `${r.delivery.status} (${r.delivery.attempts} attempts)` : "not sent"}</td><td><${When} at=${r.createdAt} /></td></tr>`)}
                </tbody>
              </table>`}`}<//>
  `;
}

function OneRun({ id }: { id: string }) {
  const run = useLoad(() => api.get<BillingRunDetail>(`/v1/billing-runs/${encodeURIComponent(id)}`), [id]);
  return html`
    <p class="crumbs"><a href="#/billing">Billing</a> › run ${id}</p>
    <h1 tabindex="-1">Billing run ${id}</h1>
    <${Loading} loaded=${run}>${(d: BillingRunDetail) => html`
      <p>Period ${d.run.period}: ${d.run.invoiceCount} invoices, ${d.run.total} ${d.run.currency} in all (prices ${d.run.pricesVersion}).${" "}
        <a href=${`/v1/billing-runs/${d.run.id}/invoices.csv`} download=${`invoices-${d.run.period}.csv`}>Download the invoice lines (CSV)</a></p>
      ${(d.run.targetTotals ?? []).length > 0 && html`
        <table aria-label="Totals per target">
          <thead><tr><th scope="col">Target</th><th scope="col" class="num">Invoices</th><th scope="col" class="num">Total</th></tr></thead>
          <tbody>${(d.run.targetTotals ?? []).map((t) => html`
            <tr><td>${t.target}</td><td class="num">${t.invoiceCount}</td><td class="num">${t.total} ${t.currency}</td></tr>`)}
          </tbody>
        </table>`}
      ${d.invoices.map((inv) => html`
        <section aria-labelledby=${`inv-${inv.subscriptionId}`}>
          <h2 id=${`inv-${inv.subscriptionId}`}>Subscription <a href=${link(`/subscriptions/${inv.subscriptionId}`)}>${inv.subscriptionId}</a>: ${inv.total} ${inv.currency}</h2>
          <table>
            <thead><tr><th scope="col">Resource</th><th scope="col" class="num">Quantity</th><th scope="col">Unit</th><th scope="col" class="num">Free</th><th scope="col" class="num">Unit price</th><th scope="col" class="num">Amount</th></tr></thead>
            <tbody>${inv.lines.map((l) => html`
              <tr><td>${l.resource}</td><td class="num">${l.quantity}</td><td>${l.unit}</td><td class="num">${l.freeUnitHours}</td><td class="num">${l.unitPrice}</td><td class="num">${l.amount}</td></tr>`)}
            </tbody>
          </table>
        </section>`)}
    `}<//>
  `;
}
