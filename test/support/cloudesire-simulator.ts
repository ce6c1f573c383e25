import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { signNotification } from "../../src/marketplaces/cloudesire/signature.js";
import { CLOUDESIRE_API_VERSION, Credential, Endpoint, InvoiceLine, type DeploymentStatus } from "../../src/marketplaces/cloudesire/contract.js";

/**
 * A Cloudesire marketplace backend for tests, built from its documented contract — not from our client:
 * - notifications (docs/event-notification.md): POSTed with `Content-Type: application/json; charset=utf-8`,
 *   `CMW-Event-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>`, body {entity, id, entityUrl, type, date};
 *   re-sent with exponential back-off until a 204 (a 200 is accepted, its body discarded; 429 waits Retry-After);
 * - the API (docs/api.md, docs/syndication.md; api/SubscriptionApi.java): `CMW-Auth-Token` required (401
 *   otherwise), errors as `{"errorHolders":[...]}`, 404 for an unknown id; `GET subscription/{id}`, `GET
 *   user/{id}`, `HEAD subscription`, `POST subscription/{id}/endpoints|instructions|credentials` (each *sets*
 *   the value: setSyndicatedEndpoints, setEndUserInstructions, setApplicationCredentials), `PATCH
 *   subscription/{id}` {deploymentStatus}, `GET|PUT subscription/{id}/metadata` (PUT replaces the map),
 *   `POST subscription/{id}/invoice` (creates an invoice each time: 201 + Location). Our apiVersion pin is
 *   required (400 without it) so that a call that forgets it fails loudly.
 * Every call is recorded; faults (5xx, timeouts before or after the call takes effect) can be injected per call.
 */
export interface SimSubscription {
  id: number;
  name: string;
  paid: boolean;
  deploymentStatus: DeploymentStatus;
  type: "NORMAL" | "TRIAL" | "SANDBOX";
  buyer: { url: string };
  productVersion: { url: string };
  billingItems: Array<{ billingItem: { url: string }; identifier: string; unit: string; value: number; bought: number; tag: null; unlimited: false }>;
  endDate: string;
}

export interface RecordedCall {
  method: string;
  path: string;
  apiVersion: string | null;
  body: unknown;
  status: number;
  /** Whether the call took effect (a timeout may hit before or after it does). */
  applied: boolean;
}

type Fault = { method: string; path: RegExp; kind: "5xx" | "429" | "400" | "timeout-before" | "timeout-after"; times: number };

export class CloudesireSimulator {
  readonly calls: RecordedCall[] = [];
  readonly deliveries: Array<{ id: string; type: string; status: number | "error" }> = [];
  readonly subscriptions = new Map<number, SimSubscription>();
  readonly users = new Map<number, Record<string, unknown>>();
  /** What vendors posted, per subscription, as Cloudesire keeps it. */
  readonly endpoints = new Map<number, unknown[]>();
  readonly instructions = new Map<number, Record<string, string>>();
  readonly credentials = new Map<number, Array<{ key: string; value: string }>>();
  readonly metadata = new Map<number, Record<string, unknown>>();
  readonly invoices: Array<{ subscription: number; lines: unknown[] }> = [];
  /** Every deploymentStatus a vendor PATCHed, in order. */
  readonly patches: Array<{ subscription: number; deploymentStatus: string }> = [];
  private faults: Fault[] = [];
  private hanging = new Set<ServerResponse>();
  private server!: Server;
  private deliveriesInFlight = new Set<Promise<void>>();
  private stopped = false;
  url = "";

  constructor(readonly o: { token: string; secret: string; target?: string }) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/api`;
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.deliveriesInFlight]);
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Where notifications go (our service's base URL). */
  target(url: string): void {
    this.o.target = url;
  }

  /** The next `times` calls matching fail as `kind`. */
  inject(method: string, path: RegExp, kind: Fault["kind"], times = 1): void {
    this.faults.push({ method, path, kind, times });
  }

  addUser(id: number, fields: Record<string, unknown> = {}): void {
    this.users.set(id, { id, name: "Ada", surname: "Lovelace", fullName: "Ada Lovelace", email: `ada${id}@example.com`, userName: `ada${id}`, language: "en", self: `user/${id}`, ...fields });
  }

  /** A subscription as an order creates it (a TRIAL starts PENDING; a NORMAL one WAITING_PAYMENT, unpaid). */
  order(id: number, o: { type?: SimSubscription["type"]; quantities?: Record<string, number>; productVersion?: number; buyer?: number; paid?: boolean; deploymentStatus?: DeploymentStatus } = {}): SimSubscription {
    const buyer = o.buyer ?? 2240;
    if (!this.users.has(buyer)) this.addUser(buyer);
    const type = o.type ?? "NORMAL";
    const sub: SimSubscription = {
      id, name: "OpenStack VDC - Base", type, buyer: { url: `user/${buyer}` }, productVersion: { url: `productVersion/${o.productVersion ?? 77}` },
      paid: o.paid ?? type === "TRIAL",
      deploymentStatus: o.deploymentStatus ?? (type === "TRIAL" ? "PENDING" : "WAITING_PAYMENT"),
      billingItems: [],
      endDate: "2027-01-01T00:00:00Z",
    };
    this.subscriptions.set(id, sub);
    this.setQuantities(id, o.quantities ?? { CPU_CORES: 4, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    return sub;
  }

  setQuantities(id: number, q: Record<string, number>): void {
    const sub = this.must(id);
    sub.billingItems = Object.entries(q).map(([identifier, value], i) => ({
      billingItem: { url: `billingItem/${900 + i}` }, identifier, unit: identifier.endsWith("_GB") ? "GB" : "unit", value, bought: value, tag: null, unlimited: false,
    }));
  }

  set(id: number, fields: Partial<SimSubscription>): void {
    Object.assign(this.must(id), fields);
  }

  /** Cloudesire's subscription deleted (after UNDEPLOYED, or by an administrator): reads answer 404. */
  remove(id: number): void {
    this.subscriptions.delete(id);
  }

  /**
   * Sends a notification as the platform does, and resolves once it was acknowledged: retried with
   * exponential back-off (from 10 ms, at most 200 ms here) until a 204 or a 200.
   */
  notify(id: number | string, type: "CREATED" | "MODIFIED" | "DELETED", o: { entity?: string; idAsNumber?: boolean; secret?: string; maxAttempts?: number } = {}): Promise<void> {
    const entity = o.entity ?? "Subscription";
    const body = JSON.stringify({
      entity, id: o.idAsNumber ? Number(id) : String(id), entityUrl: `${entity.toLowerCase()}/${id}`, type, date: new Date().toISOString(), metadata: {},
    });
    const run = async () => {
      for (let attempt = 0; !this.stopped && attempt < (o.maxAttempts ?? 1000); attempt++) {
        let status: number | "error" = "error";
        let retryAfterMs = 0;
        try {
          const res = await fetch(`${this.o.target}/v1/cloudesire/events`, {
            method: "POST",
            headers: { accept: "application/json", "content-type": "application/json; charset=utf-8", "CMW-Event-Signature": signNotification(o.secret ?? this.o.secret, body) },
            body,
          });
          await res.arrayBuffer();
          status = res.status;
          retryAfterMs = Number(res.headers.get("retry-after") ?? 0) * 1000;
        } catch {
          status = "error";
        }
        this.deliveries.push({ id: String(id), type, status });
        if (status === 204 || status === 200) return;
        await new Promise((r) => setTimeout(r, Math.max(retryAfterMs, Math.min(200, 10 * 2 ** attempt))));
      }
    };
    const p = run().finally(() => this.deliveriesInFlight.delete(p));
    this.deliveriesInFlight.add(p);
    return p;
  }

  callsTo(method: string, path: RegExp): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && path.test(c.path));
  }

  private must(id: number): SimSubscription {
    const sub = this.subscriptions.get(id);
    if (!sub) throw new Error(`no simulated subscription ${id}`);
    return sub;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown ;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const method = req.method ?? "GET";
    const path = url.pathname.replace(/^\/api\//, "");
    const call: RecordedCall = { method, path, apiVersion: url.searchParams.get("apiVersion"), body, status: 0, applied: false };
    this.calls.push(call);
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      res.writeHead(status, { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...headers });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const error = (status: number, key: string, text: string) => reply(status, { errorHolders: [{ key, error: text, extraFields: {} }] });

    if (req.headers["cmw-auth-token"] !== this.o.token) return error(401, "auth.invalid", "invalid or missing CMW-Auth-Token");
    if (call.apiVersion !== CLOUDESIRE_API_VERSION) return error(400, "apiVersion", `apiVersion ${CLOUDESIRE_API_VERSION} expected`);

    const fault = this.faults.find((f) => f.method === method && f.path.test(path) && f.times > 0);
    if (fault) fault.times--;
    if (fault?.kind === "5xx") return error(503, "service.unavailable", "temporarily unavailable");
    if (fault?.kind === "400") return error(400, "credential.key.invalid", "credential key invalid");
    if (fault?.kind === "429") return reply(429, { errorHolders: [] }, { "retry-after": "0" });
    if (fault?.kind === "timeout-before") return this.hang(res, call);

    const outcome = this.apply(method, path, body);
    call.applied = outcome.applied;
    if (fault?.kind === "timeout-after") return this.hang(res, call);
    if (outcome.status >= 400) return error(outcome.status, "request.invalid", outcome.error ?? "invalid");
    return reply(outcome.status, outcome.payload, outcome.headers);
  }

  /** Never answers: the caller's timeout fires (the connection is dropped when the simulator stops). */
  private hang(res: ServerResponse, call: RecordedCall): void {
    call.status = -1;
    this.hanging.add(res);
    res.on("close", () => this.hanging.delete(res));
  }

  private apply(method: string, path: string, body: unknown): { status: number; applied: boolean; payload?: unknown; headers?: Record<string, string>; error?: string } {
    if (method === "HEAD" && path === "subscription") return { status: 200, applied: false };
    const userPath = method === "GET" ? /^user\/(\d+)$/.exec(path) : null;
    if (userPath) {
      const m = userPath;
      const user = this.users.get(Number(m[1]));
      return user ? { status: 200, applied: false, payload: user } : { status: 404, applied: false, error: "user not found" };
    }
    const m = /^subscription\/(\d+)(?:\/(endpoints|instructions|credentials|metadata|invoice))?$/.exec(path);
    if (m) {
      const id = Number(m[1]);
      const sub = this.subscriptions.get(id);
      if (!sub) return { status: 404, applied: false, error: "subscription not found (or deleted recently)" };
      const part = m[2];
      if (method === "GET" && !part) return { status: 200, applied: false, payload: { ...sub, self: `subscription/${id}`, syndicatedEndpoints: this.endpoints.get(id) ?? [] } };
      if (method === "PATCH" && !part) {
        const status = (body as { deploymentStatus?: string })?.deploymentStatus;
        if (!status || !["DEPLOYED", "FAILED", "UNDEPLOYED"].includes(status)) return { status: 400, applied: false, error: "deploymentStatus" };
        sub.deploymentStatus = status as DeploymentStatus;
        this.patches.push({ subscription: id, deploymentStatus: status });
        return { status: 200, applied: true, payload: {} };
      }
      if (method === "POST" && part === "endpoints") {
        const parsed = Endpoint.array().safeParse(body);
        if (!parsed.success || !parsed.data.some((e) => e.category === "APP") || parsed.data.some((e) => !e.endpoint.startsWith("https://"))) {
          return { status: 400, applied: false, error: "an APP endpoint is required and endpoints must be HTTPS" };
        }
        this.endpoints.set(id, parsed.data);
        return { status: 204, applied: true };
      }
      if (method === "POST" && part === "instructions") {
        if (!body || typeof body !== "object" || Array.isArray(body)) return { status: 400, applied: false, error: "a map of language to text" };
        this.instructions.set(id, body as Record<string, string>);
        return { status: 204, applied: true };
      }
      if (method === "POST" && part === "credentials") {
        const parsed = Credential.array().safeParse(body);
        if (!parsed.success) return { status: 400, applied: false, error: "credentials" };
        this.credentials.set(id, parsed.data.map((c) => ({ key: c.key, value: c.value })));
        return { status: 204, applied: true };
      }
      if (method === "GET" && part === "metadata") return { status: 200, applied: false, payload: this.metadata.get(id) ?? {} };
      if (method === "PUT" && part === "metadata") {
        this.metadata.set(id, body as Record<string, unknown>);
        return { status: 204, applied: true };
      }
      if (method === "POST" && part === "invoice") {
        const parsed = InvoiceLine.array().safeParse(body);
        if (!parsed.success) return { status: 400, applied: false, error: "invoice lines" };
        this.invoices.push({ subscription: id, lines: parsed.data });
        return { status: 201, applied: true, headers: { location: `invoice/${5000 + this.invoices.length}` } };
      }
    }
    return { status: 404, applied: false, error: `no route ${method} ${path}` };
  }
}
