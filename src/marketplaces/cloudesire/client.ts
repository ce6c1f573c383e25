import type { z } from "zod";
import type { ReportedStatus } from "../../domain/cloudesire-report.js";
import { RateGate } from "./rate-gate.js";
import {
  CatalogItem, CatalogPlan, CatalogProduct, CLOUDESIRE_API_VERSION, CloudesireSubscription, CloudesireUser, ErrorBody,
  type Credential, type Endpoint, type Instructions, type InvoiceLine,
} from "./contract.js";

export interface CloudesireClientOptions {
  /** The marketplace backend's base, ending in `/api` (CLOUDESIRE_API_URL). */
  apiUrl: string;
  /** Sent as `CMW-Auth-Token` (docs/api.md; `CMW-Auth-User` is obsolete). */
  token: string;
  timeoutMs: number;
  /** Attempts of a read (the first included); writes are retried by the outbox, durably. */
  readAttempts: number;
  backoffMs: number;
  /** How long calls wait once Cloudesire says none remain, when it does not say (rate-gate.ts); 1 s by default. */
  ratePauseMs?: number;
  fetchImpl?: typeof fetch;
}

/**
 * A failed call. `applied` says what we know of its effect: `no` when Cloudesire refused it or never got
 * it (a status, a refused connection), `unknown` when the request may have been taken (a timeout, a
 * connection lost after sending). `transient` failures are worth another try; others need a person.
 */
export class CloudesireError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly transient: boolean,
    readonly applied: "no" | "unknown",
    /** How long Cloudesire asked us to wait before the next call (a 429's rate-limit headers). */
    readonly retryAfterMs = 0,
  ) {
    super(message);
    this.name = "CloudesireError";
  }
}

/** Cloudesire's REST API, the calls a syndicated vendor makes (api/SubscriptionApi.java, docs/syndication.md). */
export class CloudesireClient {
  private readonly fetchImpl: typeof fetch;
  private readonly gate: RateGate;
  constructor(private readonly o: CloudesireClientOptions) {
    this.fetchImpl = o.fetchImpl ?? fetch;
    this.gate = new RateGate(o.ratePauseMs ?? 1000);
  }

  /** The subscription as it is now; null when Cloudesire says 404 (never existed, or deleted recently). */
  async subscription(id: string): Promise<CloudesireSubscription | null> {
    return this.read(`subscription/${id}`, CloudesireSubscription);
  }

  async user(id: string): Promise<CloudesireUser | null> {
    return this.read(`user/${id}`, CloudesireUser);
  }

  /** The vendor's product (the doctor checks it); null when this marketplace has no such product. */
  async product(id: string): Promise<CatalogProduct | null> {
    return this.read(`product/${id}`, CatalogProduct);
  }

  /** The product's plans (product versions). */
  async plans(productId: string): Promise<CatalogPlan[]> {
    return (await this.read(`productVersion?product=${productId}`, CatalogPlan.array())) ?? [];
  }

  async billingItem(id: string): Promise<CatalogItem | null> {
    return this.read(`billingItem/${id}`, CatalogItem);
  }

  /** Token accepted? `HEAD subscription` (SubscriptionApi.getAllPagedHead): cheap and needs a vendor token. */
  async checkToken(): Promise<void> {
    await this.send("HEAD", "subscription", undefined, this.o.readAttempts);
  }

  async setEndpoints(id: string, endpoints: Endpoint[]): Promise<void> {
    await this.send("POST", `subscription/${id}/endpoints`, endpoints);
  }

  async setInstructions(id: string, instructions: Instructions): Promise<void> {
    await this.send("POST", `subscription/${id}/instructions`, instructions);
  }

  async setCredentials(id: string, credentials: Credential[]): Promise<void> {
    await this.send("POST", `subscription/${id}/credentials`, credentials);
  }

  async setStatus(id: string, deploymentStatus: ReportedStatus): Promise<void> {
    await this.send("PATCH", `subscription/${id}`, { deploymentStatus });
  }

  /** Names the subscription on the customer's dashboard (SubscriptionPatchDTO: action SET_NAME, name). */
  async setName(id: string, name: string): Promise<void> {
    await this.send("PATCH", `subscription/${id}`, { action: "SET_NAME", name });
  }

  /** Merges `values` into the subscription's metadata (GET, then PUT the whole map: PUT replaces it). */
  async mergeMetadata(id: string, values: Record<string, string>): Promise<void> {
    const res = await this.send("GET", `subscription/${id}/metadata`, undefined, this.o.readAttempts);
    const current = (await res.json().catch(() => ({}))) as unknown;
    const base = current && typeof current === "object" && !Array.isArray(current) ? (current as Record<string, unknown>) : {};
    await this.send("PUT", `subscription/${id}/metadata`, { ...base, ...values });
  }

  /** Creates an invoice (201 + Location). Not idempotent: Cloudesire has no key to deduplicate it. */
  async pushInvoice(id: string, lines: InvoiceLine[]): Promise<string | null> {
    const res = await this.send("POST", `subscription/${id}/invoice`, lines);
    return res.headers.get("location");
  }

  private async read<T extends z.ZodTypeAny>(path: string, schema: T): Promise<z.infer<T> | null> {
    try {
      const res = await this.send("GET", path, undefined, this.o.readAttempts);
      const parsed = schema.safeParse(await res.json());
      if (!parsed.success) {
        throw new CloudesireError(`Cloudesire's ${path} does not match its contract: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`, res.status, false, "no");
      }
      return parsed.data;
    } catch (e) {
      if (e instanceof CloudesireError && e.status === 404) return null;
      throw e;
    }
  }

  /**
   * One call, retried `attempts` times with exponential back-off on 5xx, 429 (its Retry-After honoured, up
   * to a minute) and timeouts; paced before it goes on what Cloudesire said remains (rate-gate.ts). The apiVersion is pinned on every call (older versions answer maps where
   * newer answer lists: dto/ApiVersion).
   */
  private async send(method: string, path: string, body: unknown, attempts = 1): Promise<Response> {
    const url = `${this.o.apiUrl.replace(/\/+$/, "")}/${path}${path.includes("?") ? "&" : "?"}apiVersion=${CLOUDESIRE_API_VERSION}`;
    let last: CloudesireError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let delay = this.o.backoffMs * 2 ** (attempt - 1);
      await this.gate.take();
      let answered: Headers | null = null;
      try {
        const res = await this.fetchImpl(url, {
          method,
          headers: {
            accept: "application/json",
            "CMW-Auth-Token": this.o.token,
            ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        answered = res.headers;
        if (res.ok) return res;
        const detail = await errorDetail(res);
        const transient = res.status >= 500 || res.status === 429;
        const waitMs = res.status === 429 ? retryAfterMsOf(res.headers) : 0;
        last = new CloudesireError(`Cloudesire answered ${res.status} to ${method} ${path}${detail}`, res.status, transient, "no", waitMs);
        if (!transient) throw last;
        if (waitMs > 0) delay = waitMs;
      } catch (e) {
        if (e instanceof CloudesireError) {
          if (!e.transient) throw e;
        } else {
          last = asNetworkError(e, method, path);
        }
      } finally {
        this.gate.answered(answered);
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, delay));
    }
    throw last ?? new CloudesireError(`${method} ${path} was not attempted`, null, true, "no");
  }
}

/**
 * How long a 429 asks us to wait, at most a minute: Cloudesire's own `X-Rate-Limit-Retry-After-Milliseconds`
 * (response/Headers.RATE_LIMIT_RETRY_AFTER_MILLISECONDS), else the standard `Retry-After` in seconds.
 */
function retryAfterMsOf(headers: Headers): number {
  const ms = Number(headers.get("x-rate-limit-retry-after-milliseconds"));
  const s = Number(headers.get("retry-after"));
  const wait = Number.isFinite(ms) && ms > 0 ? ms : Number.isFinite(s) && s > 0 ? s * 1000 : 0;
  return Math.min(wait, 60_000);
}

/** `errorHolders` surfaced in our message (docs/api.md), or the start of whatever the body was. */
async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  if (!text) return "";
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success && parsed.data.errorHolders.length > 0) {
      return `: ${parsed.data.errorHolders.map((h) => [h.key, h.error].filter(Boolean).join(" ")).join("; ")}`;
    }
  } catch {
    // not JSON: shown as text below
  }
  return `: ${text.slice(0, 200)}`;
}

/** A refused connection never reached Cloudesire; a timeout or a connection lost mid-way may have. */
function asNetworkError(e: unknown, method: string, path: string): CloudesireError {
  const err = e as { name?: string; message?: string; cause?: { code?: string } };
  const code = err.cause?.code;
  if (err.name === "TimeoutError" || err.name === "AbortError") {
    return new CloudesireError(`Cloudesire did not answer ${method} ${path} in time`, null, true, "unknown");
  }
  const refused = code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
  return new CloudesireError(`Cloudesire could not be reached for ${method} ${path} (${code ?? err.message ?? "network error"})`, null, true, refused ? "no" : "unknown");
}
