import { html } from "htm/preact";
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { errorText } from "./api.js";
import type { Phase, Role } from "./types.js";

/** Markup as tagged templates (htm): no JSX, so no build step beyond esbuild's bundling. */
export { html };

/** What each role may do (issue 23's contract): a viewer reads; operators act on tenants and rollouts; admins bill. */
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const can = (role: Role, needs: Role): boolean => RANK[role] >= RANK[needs];

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/** Loads `load()` now and whenever `key` changes; `reload` loads again (after an action). */
export function useLoad<T>(load: () => Promise<T>, key: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  // `key` lists what the load depends on (the effect runs again when one changes).
  useEffect(() => {
    let live = true;
    load().then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
      },
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [...key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

export const Failure = ({ error }: { error: string | undefined }) => (error ? html`<p class="error" role="alert">${error}</p>` : null);

export function Loading<T>({ loaded, children }: { loaded: Loaded<T>; children: (d: T) => ComponentChildren }) {
  if (loaded.error) return html`<${Failure} error=${loaded.error} />`;
  if (loaded.data === undefined) return html`<p aria-live="polite">Loading…</p>`;
  return children(loaded.data);
}

/** A phase as a word with its own class (colour is never the only sign: the word is always there). */
export const PhaseBadge = ({ phase }: { phase: Phase | string }) => html`<span class=${`badge phase-${phase}`}>${phase}</span>`;

/** One formatter for every time shown: `toLocaleString` builds one per call (a page of 100 rows has 100). */
const LOCAL_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
export const When = ({ at }: { at: string | null | undefined }) =>
  at ? html`<time datetime=${at} title=${at}>${LOCAL_TIME.format(new Date(at))}</time>` : html`<span>—</span>`;

export const link = (path: string) => `#${path}`;
