import type { Role } from "../../src/domain/operator.js";
import { OPERATOR_TOKEN } from "./harness.js";

type App = { request(path: string, init?: RequestInit): Response | Promise<Response> };

/** Adds a named operator as root would (POST /v1/operators) and returns its token, shown once. */
export async function addOperator(h: { app: App }, name: string, role: Role): Promise<string> {
  const res = await h.app.request("/v1/operators", {
    method: "POST", body: JSON.stringify({ name, role }),
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, "content-type": "application/json" },
  });
  if (res.status !== 201) throw new Error(`adding ${name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** A request with a bearer token. */
export const withToken = (h: { app: App }, token: string) => (path: string, init: RequestInit = {}) =>
  h.app.request(path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });

/** A problem body's title. */
export const titleOf = async (res: Response): Promise<string> => ((await res.json()) as { title: string }).title;
