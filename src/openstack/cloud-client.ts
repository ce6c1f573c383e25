import type { z } from "zod";
import { AppError, unavailable, upstream } from "../domain/errors.js";
import type { AdminCredentials } from "./credentials.js";
import { AdminSession } from "./admin-session.js";
import { endpointOf } from "./keystone.js";

/** The OpenStack services the tenant guard talks to, by their catalog types (old and new names). */
export type Service = "identity" | "compute" | "block-storage" | "network" | "placement";
export const CATALOG_TYPES: Record<Exclude<Service, "identity">, readonly string[]> = {
  compute: ["compute"],
  "block-storage": ["block-storage", "volumev3", "volume"],
  network: ["network"],
  placement: ["placement"],
};
const TIMEOUT_MS = 30_000;

/**
 * Admin requests to Nova, Cinder and Neutron, at the endpoints of the Keystone catalog (the admin's
 * interface and region). Every answer is validated with the caller's zod schema.
 */
export class CloudClient {
  private readonly session: AdminSession;
  private readonly timeoutMs: number;

  constructor(
    private readonly creds: AdminCredentials,
    fetchImpl: typeof fetch = fetch,
    /** `session`: the admin's token, renewed before it expires and after a 401 (an hour-old token is dead). */
    o: { timeoutMs?: number; session?: AdminSession } = {},
  ) {
    this.session = o.session ?? new AdminSession(creds, { fetchImpl });
    this.timeoutMs = o.timeoutMs ?? TIMEOUT_MS;
  }

  /** The service's endpoint, or null when this cloud does not run it (a Keystone-only test cloud). */
  async endpoint(service: Service): Promise<string | null> {
    // Keystone is where the admin logs in: its URL is the credentials' own, whatever the catalog says.
    if (service === "identity") return this.creds.authUrl.replace(/\/+$/, "");
    return endpointOf((await this.session.current()).catalog, CATALOG_TYPES[service], this.creds);
  }

  /** A GET of one resource, or null when the service answers 404 (it does not exist, or no longer). */
  find<T>(service: Service, path: string, schema: z.ZodType<T>): Promise<T | null> {
    return this.request(service, "GET", path, schema, undefined, { absentAsNull: true });
  }

  request<T>(service: Service, method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T>;
  request<T>(service: Service, method: string, path: string, schema: z.ZodType<T>, body: unknown, o: { absentAsNull: true }): Promise<T | null>;
  async request<T>(service: Service, method: string, path: string, schema: z.ZodType<T>, body?: unknown, o: { absentAsNull?: boolean } = {}): Promise<T | null> {
    const base = await this.endpoint(service);
    if (!base) throw unavailable(`no ${service} endpoint in the Keystone catalog`);
    let res: Response;
    try {
      res = await this.session.fetch(`${base}${path}`, {
        method,
        headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }, this.timeoutMs);
    } catch (e) {
      if (e instanceof AppError) throw e; // a renewed login that failed says so itself
      throw unavailable(`cannot reach ${service} at ${base} (${e instanceof Error ? e.message : String(e)})`);
    }
    const text = await res.text();
    if (res.status === 404 && o.absentAsNull) return null;
    if (res.status >= 500) throw unavailable(`${service} answered ${res.status} to ${method} ${path.split("?")[0]}`);
    if (!res.ok && !(method === "DELETE" && res.status === 404)) throw upstream(`${service} answered ${res.status} to ${method} ${path.split("?")[0]}: ${text.slice(0, 300)}`);
    const parsed = schema.safeParse(text === "" ? null : JSON.parse(text));
    if (!parsed.success) throw upstream(`${service} answered ${method} ${path.split("?")[0]} with an unexpected body`);
    return parsed.data;
  }
}
