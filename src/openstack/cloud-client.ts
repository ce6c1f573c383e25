import type { z } from "zod";
import { unavailable, upstream } from "../domain/errors.js";
import type { AdminCredentials } from "./credentials.js";
import { authenticate, type KeystoneSession } from "./keystone.js";

/** The OpenStack services the tenant guard talks to, by their catalog types (old and new names). */
export type Service = "compute" | "block-storage" | "network";
const CATALOG_TYPES: Record<Service, string[]> = {
  compute: ["compute"],
  "block-storage": ["block-storage", "volumev3", "volume"],
  network: ["network"],
};
const TIMEOUT_MS = 30_000;

/**
 * Admin requests to Nova, Cinder and Neutron, at the endpoints of the Keystone catalog (the admin's
 * interface and region). Every answer is validated with the caller's zod schema.
 */
export class CloudClient {
  private session: Promise<KeystoneSession> | undefined;

  constructor(
    private readonly creds: AdminCredentials,
    private readonly fetchImpl: typeof fetch = fetch,
    private readonly o: { timeoutMs: number } = { timeoutMs: TIMEOUT_MS },
  ) {}

  private login(): Promise<KeystoneSession> {
    this.session ??= authenticate(this.creds, this.fetchImpl).catch((e: unknown) => {
      this.session = undefined;
      throw e;
    });
    return this.session;
  }

  /** The service's endpoint, or null when this cloud does not run it (a Keystone-only test cloud). */
  async endpoint(service: Service): Promise<string | null> {
    const { catalog } = await this.login();
    for (const type of CATALOG_TYPES[service]) {
      const entry = catalog.find((s) => s.type === type);
      const ep = entry?.endpoints.find((e) => e.interface === this.creds.interface && (!this.creds.regionName || !e.region_id || e.region_id === this.creds.regionName));
      if (ep) return ep.url.replace(/\/+$/, "");
    }
    return null;
  }

  async request<T>(service: Service, method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const base = await this.endpoint(service);
    if (!base) throw unavailable(`no ${service} endpoint in the Keystone catalog`);
    const { token } = await this.login();
    let res: Response;
    try {
      res = await this.fetchImpl(`${base}${path}`, {
        method,
        headers: { "x-auth-token": token, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (e) {
      throw unavailable(`cannot reach ${service} at ${base} (${e instanceof Error ? e.message : String(e)})`);
    }
    const text = await res.text();
    if (res.status >= 500) throw unavailable(`${service} answered ${res.status} to ${method} ${path.split("?")[0]}`);
    if (!res.ok && !(method === "DELETE" && res.status === 404)) throw upstream(`${service} answered ${res.status} to ${method} ${path.split("?")[0]}: ${text.slice(0, 300)}`);
    const parsed = schema.safeParse(text === "" ? null : JSON.parse(text));
    if (!parsed.success) throw upstream(`${service} answered ${method} ${path.split("?")[0]} with an unexpected body`);
    return parsed.data;
  }
}
