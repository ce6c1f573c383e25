import { useState } from "preact/hooks";
import { api, errorText } from "../api.js";
import type { Session } from "../types.js";
import { Failure, html } from "../ui.js";

/** The login: an operator token becomes a session (an HttpOnly cookie: the token is not kept by the page). */
export function Login({ onSession }: { onSession: (s: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const s = await api.post<Session>("/v1/session", { token: token.trim() });
      setToken("");
      onSession(s);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main id="main" class="login" tabindex="-1">
      <h1 tabindex="-1">openstack-tenants console</h1>
      <p>Sign in with your operator token (<code>OPERATOR_TOKEN</code>, the token in <code>DATA_DIR/operator-token</code>, or one given to you by an admin).</p>
      <form onSubmit=${submit}>
        <label for="token">Operator token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required
          value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled=${busy}>Sign in</button>
      </form>
      <${Failure} error=${error} />
    </main>
  `;
}
