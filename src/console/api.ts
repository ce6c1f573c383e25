import { printableDeep } from "../domain/printable.js";
import type { Problem, Session } from "./types.js";

/** A refusal of the API, with its problem's title (what a person can act on) and status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

let csrf: string | undefined;
/** Every change is sent with the session's CSRF token (the cookie alone is refused). */
export const useSession = (s: Session | undefined) => {
  csrf = s?.csrf;
};

/** Called when the session ended (401): the console shows the login again. */
let onLoggedOut: () => void = () => {};
export const whenLoggedOut = (f: () => void) => {
  onLoggedOut = f;
};

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrf) headers["x-csrf-token"] = csrf;
  const res = await fetch(path, { method, headers, credentials: "same-origin", ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (res.status === 204) return undefined as T;
  const type = res.headers.get("content-type") ?? "";
  const parsed: unknown = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const p = parsed as Partial<Problem>;
    if (res.status === 401 && path !== "/v1/session") onLoggedOut();
    throw new ApiError(res.status, typeof p.title === "string" ? printableDeep(p.title) : `${res.status} ${res.statusText}`, printableDeep(p.detail));
  }
  // What the API says is data from customers and marketplaces: shown with its controls and bidirectional
  // overrides escaped, as tenantctl shows it.
  return printableDeep(parsed) as T;
}

export const api = {
  get: <T>(path: string) => call<T>("GET", path),
  post: <T>(path: string, body?: unknown) => call<T>("POST", path, body),
  del: <T>(path: string) => call<T>("DELETE", path),
};

/** A query string of the fields set. */
export function query(q: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const errorText = (e: unknown): string => {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  const detail = typeof e.detail === "string" ? `: ${e.detail}` : "";
  return `${e.message}${detail} (${e.status})`;
};
