import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, useSession, whenLoggedOut } from "./api.js";
import { currentRoute, type Route } from "./route.js";
import type { Session } from "./types.js";
import { html } from "./ui.js";
import { BillingView } from "./views/billing.js";
import { FleetView } from "./views/fleet.js";
import { Login } from "./views/login.js";
import { RolloutsView } from "./views/rollouts.js";
import { SubscriptionView } from "./views/subscription.js";
import { SubscriptionsView } from "./views/subscriptions.js";

const SECTIONS = [
  { path: "/fleet", label: "Fleet" },
  { path: "/subscriptions", label: "Subscriptions" },
  { path: "/rollouts", label: "Rollouts" },
  { path: "/billing", label: "Billing" },
] as const;

function View({ route, session }: { route: Route; session: Session }) {
  const [section, id] = route.parts;
  switch (section) {
    case "subscriptions":
      return id ? html`<${SubscriptionView} id=${id} session=${session} />` : html`<${SubscriptionsView} query=${route.query} />`;
    case "rollouts":
      return html`<${RolloutsView} id=${id} session=${session} />`;
    case "billing":
      return html`<${BillingView} id=${id} session=${session} />`;
    default:
      return html`<${FleetView} />`;
  }
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener("hashchange", changed);
    whenLoggedOut(() => setSession(null));
    api.get<Session>("/v1/session").then(setSession, () => setSession(null));
    return () => removeEventListener("hashchange", changed);
  }, []);
  useEffect(() => useSession(session ?? undefined), [session]);
  // Each view names itself in the tab's title and takes the focus to its heading (screen readers hear the change).
  useEffect(() => {
    document.querySelector<HTMLElement>("main h1")?.focus();
  }, [route.path, session === null]);

  if (session === undefined) return html`<main id="main"><h1>openstack-tenants console</h1><p>Loading…</p></main>`;
  if (session === null) {
    return html`<${Login} onSession=${(s: Session) => {
      useSession(s);
      setSession(s);
    }} />`;
  }
  const logout = async () => {
    await api.del("/v1/session").catch(() => undefined);
    setSession(null);
  };
  const active = `/${route.parts[0] ?? "fleet"}`;
  return html`
    <a class="skip" href="#main" onClick=${(e: Event) => {
      e.preventDefault();
      document.getElementById("main")?.focus();
    }}>Skip to the content</a>
    <header class="top">
      <span class="brand">openstack-tenants</span>
      <nav aria-label="Sections">
        <ul>
          ${SECTIONS.map((s) => html`<li><a href=${`#${s.path}`} aria-current=${active === s.path ? "page" : undefined}>${s.label}</a></li>`)}
        </ul>
      </nav>
      <p class="who">Signed in as <strong>${session.name}</strong> (${session.role})
        <button type="button" onClick=${logout}>Log out</button></p>
    </header>
    <main id="main" tabindex="-1"><${View} route=${route} session=${session} /></main>
  `;
}

const root = document.getElementById("console");
if (root) {
  root.textContent = "";
  render(html`<${App} />`, root);
}
