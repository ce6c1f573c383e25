import { z } from "zod";
import { AppError, unavailable, upstream } from "../domain/errors.js";
import type { AdminCredentials } from "../openstack/credentials.js";
import { AdminSession } from "../openstack/admin-session.js";
import { endpointOf } from "../openstack/keystone.js";
import type { Meter } from "../domain/billing.js";
import type { Period } from "./period.js";
import type { Point } from "./usage.js";

export type GnocchiAuth =
  | { kind: "keystone"; credentials: AdminCredentials }
  | { kind: "basic"; user: string };

export interface GnocchiClientOptions {
  /** Gnocchi's URL; with keystone auth and no URL, the catalog's `metric` endpoint is used. */
  url?: string | undefined;
  auth: GnocchiAuth;
  maxAttempts?: number;
  backoffMs?: number;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

/**
 * A series of [timestamp, granularity, value] points. Checked by one predicate over the whole array:
 * a month for a thousand projects is millions of points, and a schema object per point costs seconds.
 */
const isPoint = (p: unknown): boolean =>
  Array.isArray(p) && p.length === 3 && typeof p[0] === "string" && typeof p[1] === "number" && p[1] > 0 && typeof p[2] === "number";
const PointSeries = z.custom<Point[]>((v) => Array.isArray(v) && v.every(isPoint), "expected [timestamp, granularity, value] points");
/** `POST /v1/aggregates?groupby=project_id`: one entry per project, its series under measures.measures.aggregated. */
const GroupedAggregates = z.array(
  z.object({
    group: z.object({ project_id: z.string().nullable() }),
    measures: z.object({ measures: z.object({ aggregated: PointSeries }) }),
  }),
);

/**
 * A typed Gnocchi client: Keystone tokens as real clouds use (basic auth for simple setups), retries of
 * 5xx and network failures with a cap, zod-validated responses, and a request counter for benchmarks.
 */
export class GnocchiClient {
  requests = 0;
  /** With keystone auth: the admin's token, renewed before it expires and after a 401. */
  private readonly session: AdminSession | undefined;
  private baseUrl: string | undefined;

  constructor(private readonly o: GnocchiClientOptions) {
    this.baseUrl = o.url?.replace(/\/+$/, "");
    if (o.auth.kind === "keystone") this.session = new AdminSession(o.auth.credentials, { fetchImpl: o.fetchImpl });
  }

  /**
   * Usage of every project at once: one request per meter per period, whatever the number of projects.
   * Per resource the archive's `aggregation` series is read; a project's resources are summed per
   * timestamp (needed_overlap=0: a resource that did not exist all period still counts where it did).
   */
  async usageByProject(meter: Meter, period: Period, granularitySeconds: number): Promise<Map<string, Point[]>> {
    const params = new URLSearchParams({
      groupby: "project_id",
      start: new Date(period.startMs).toISOString(),
      stop: new Date(period.stopMs).toISOString(),
      granularity: String(granularitySeconds),
      needed_overlap: "0",
      fill: "0",
    });
    const body = {
      resource_type: meter.resourceType,
      search: "project_id!=null",
      operations: `(aggregate sum (metric ${meter.metric} ${meter.aggregation}))`,
    };
    const raw = await this.request("POST", `/v1/aggregates?${params.toString()}`, body);
    const parsed = GroupedAggregates.safeParse(raw);
    if (!parsed.success) throw upstream(`Gnocchi answered the aggregates query for ${meter.metric} with an unexpected body`);
    const out = new Map<string, Point[]>();
    for (const g of parsed.data) if (g.group.project_id) out.set(g.group.project_id, g.measures.measures.aggregated);
    return out;
  }

  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const attempts = this.o.maxAttempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      const base = await this.base();
      let res: Response;
      try {
        this.requests++;
        res = await this.send(`${base}${path}`, {
          method,
          headers: { "content-type": "application/json", accept: "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        // A refused admin login will not pass on a retry; an unreachable Keystone or Gnocchi may.
        const refused = e instanceof AppError && e.kind !== "unavailable";
        if (!refused && attempt < attempts) {
          await this.backoff(attempt);
          continue;
        }
        if (e instanceof AppError) throw e;
        throw unavailable(`Gnocchi at ${base} did not answer ${method} ${path.split("?")[0]} after ${attempts} attempts (${e instanceof Error ? e.message : String(e)})`);
      }
      if (res.status >= 500 && attempt < attempts) {
        await res.body?.cancel();
        await this.backoff(attempt);
        continue;
      }
      if (!res.ok) {
        const text = (await res.text()).slice(0, 500);
        throw upstream(`Gnocchi answered ${res.status} to ${method} ${path.split("?")[0]}: ${text}`);
      }
      // 202 (measures accepted) and 204 carry no body.
      const text = await res.text();
      return text === "" ? null : (JSON.parse(text) as unknown);
    }
  }

  private send(url: string, init: RequestInit): Promise<Response> {
    const timeoutMs = this.o.timeoutMs ?? 300_000;
    if (this.session) return this.session.fetch(url, init, timeoutMs);
    const user = this.o.auth.kind === "basic" ? this.o.auth.user : "";
    return (this.o.fetchImpl ?? fetch)(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Basic ${Buffer.from(`${user}:`).toString("base64")}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  private async backoff(attempt: number): Promise<void> {
    await new Promise((r) => setTimeout(r, (this.o.backoffMs ?? 500) * 2 ** (attempt - 1)));
  }

  private async base(): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    if (this.o.auth.kind !== "keystone") throw unavailable("GNOCCHI_URL is required with basic auth");
    const endpoint = endpointOf((await this.session?.current())?.catalog ?? [], ["metric"], this.o.auth.credentials);
    if (!endpoint) throw unavailable("no metric (Gnocchi) endpoint in the Keystone catalog: set GNOCCHI_URL");
    this.baseUrl = endpoint;
    return this.baseUrl;
  }
}
