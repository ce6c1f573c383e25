import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { signNotification } from "../../src/marketplaces/cloudesire/signature.js";
import { SimCatalog, type CatalogSetup } from "./cloudesire-catalog.js";
import { JsonText, scale10, wireDate, wireJson } from "./cloudesire-wire.js";
import { ApplicationCredentialInputDTO, EndpointDTO, EndUserInstructions, SubscriptionPatchDTO, VendorOrderLineDTO, type SimDeploymentStatus as DeploymentStatus } from "./cloudesire-dtos.js";

/** dto/ApiVersion's newest version, the one our client pins: written here, not imported, so a drift shows. */
const API_VERSION = "20250109";

export { JsonText, scale10, wireDate, wireJson };

/**
 * A Cloudesire marketplace backend for tests, built from its documented contract and its Java client's
 * model classes (ClouDesire/java-api-client, `cloudesire-api-client-dto/.../dto/model/dto/`) — not from
 * our client:
 * - notifications (docs/event-notification.md; EventNotificationDTO): POSTed with `Content-Type:
 *   application/json; charset=utf-8`, `CMW-Event-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>`, body
 *   {id, self, eventId, entity, date, type, entityUrl, metadata}; re-sent with exponential back-off until a
 *   204 (a 200 is accepted, its body discarded; 429 waits Retry-After);
 * - the API (docs/api.md, docs/syndication.md; api/SubscriptionApi.java): `CMW-Auth-Token` required (401
 *   otherwise), errors as `{"errorHolders":[...]}`, 404 for an unknown id; `GET subscription/{id}`, `GET
 *   user/{id}`, `HEAD subscription`, `POST subscription/{id}/endpoints|instructions|credentials` (each *sets*
 *   the value: setSyndicatedEndpoints, setEndUserInstructions, setApplicationCredentials), `PATCH
 *   subscription/{id}` {deploymentStatus} or {action: SET_NAME, name} (SubscriptionPatchDTO), `GET|PUT subscription/{id}/metadata` (PUT replaces the map),
 *   `POST subscription/{id}/invoice` (creates an invoice each time: 201 + Location). Our apiVersion pin is
 *   required (400 without it) so that a call that forgets it fails loudly.
 * - the wire as Jackson writes it (base-api-client ObjectMapperFactory): every field of the class, an
 *   unset one as `null`; a BigDecimal as a plain number at its scale (WRITE_BIGDECIMAL_AS_PLAIN: a
 *   billing item's value `6.0000000000`, which JSON.stringify cannot write, so the text is written here);
 *   dates as ISO-8601 text in UTC, not timestamps (WRITE_DATES_AS_TIMESTAMPS false; Jackson's
 *   StdDateFormat writes `2026-11-01T00:00:00.000+00:00`).
 * Every call is recorded; faults (5xx, timeouts before or after the call takes effect) can be injected per call.
 */

/** One billing item a customer chose (SubscriptionBillingItemDTO). */
export interface SimBillingItem {
  /** The quantity; served as a BigDecimal at scale 10. */
  value: number;
  /** Boolean: "whether the billing item has been already bought for the Subscription". */
  bought?: boolean;
  /** Boolean: "whether the chosen value is in the last range of the possible values". */
  unlimited?: boolean;
  /** "An alternative description to identify a quantity range"; null when the plan names none. */
  tag?: string | null;
}

/** What the simulator keeps of a subscription; served through `wireSubscription` with every field of its classes. */
export interface SimSubscription {
  id: number;
  name: string;
  paid: boolean;
  deploymentStatus: DeploymentStatus;
  type: "NORMAL" | "TRIAL" | "SANDBOX";
  buyer: { url: string };
  product: { url: string };
  productVersion: { url: string };
  billingItems: Array<{ identifier: string; unit: string; url: string } & Required<SimBillingItem>>;
  createdAt: number;
  updatedAt: number;
  startDate: number | null;
  endDate: number | null;
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

/** `rate-limit`: a 429 as Cloudesire's rate limiter answers it (response/Headers: X-Rate-Limit-Remaining 0, X-Rate-Limit-Retry-After-Milliseconds), no Retry-After. */
type Fault = { method: string; path: RegExp; kind: "5xx" | "429" | "400" | "timeout-before" | "timeout-after" | "rate-limit"; times: number; retryAfterMs?: number };

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
  private readonly vendorCatalog = new SimCatalog();
  private faults: Fault[] = [];
  private limiter: { calls: number; windowMs: number; windowStart: number; used: number } | null = null;
  private eventIds = 0;
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
  inject(method: string, path: RegExp, kind: Fault["kind"], times = 1, retryAfterMs = 300): void {
    this.faults.push({ method, path, kind, times, retryAfterMs });
  }

  /**
   * A buyer (MyUserDTO: the fields a vendor may read; `language` is the "preferred user language", a code
   * such as `en` or `it`). Unset fields are null, as Jackson writes them.
   */
  /**
   * Cloudesire's rate limiter (response/Headers: X-Rate-Limit-Remaining on every answer): `calls` per
   * `windowMs`; past them, 429 with X-Rate-Limit-Retry-After-Milliseconds until the window ends.
   */
  rateLimit(calls: number, windowMs: number): void {
    this.limiter = { calls, windowMs, windowStart: Date.now(), used: 0 };
  }

  /** The vendor's catalog (cloudesire-catalog.ts): a product, its plans and their extra resources. */
  catalog(productId: number, o: CatalogSetup): void {
    this.vendorCatalog.add(productId, o);
  }

  /** No more injected faults. */
  clearFaults(): void {
    this.faults = [];
  }

  addUser(id: number, fields: Record<string, unknown> = {}): void {
    this.users.set(id, {
      id, self: `user/${id}`, userName: `ada${id}`, name: "Ada", surname: "Lovelace", fullName: "Ada Lovelace", password: null, passwordHash: null,
      language: "en", email: `ada${id}@example.com`, pec: null, phoneNumber: null, company: null, userCompany: null, companyGroup: null,
      address: null, homeAddress: null, userRole: "ROLE_USER", groups: null, enabled: true, activated: true, readOnly: false, doNotTrack: false,
      acceptedTerms: true, environment: null, activationDate: wireDate(Date.UTC(2026, 0, 5)), creationDate: wireDate(Date.UTC(2026, 0, 5)), externalId: null,
      ...fields,
    });
  }

  /**
   * A subscription as an order creates it (a TRIAL starts PENDING; a NORMAL one WAITING_PAYMENT, unpaid).
   * Quantities are billing items (SubscriptionBillingItemDTO): a number is a plain choice, bought; an
   * object sets `unlimited`, `bought` or `tag` too.
   */
  order(id: number, o: { type?: SimSubscription["type"]; quantities?: Record<string, number | SimBillingItem>; productVersion?: number; product?: number; buyer?: number; paid?: boolean; deploymentStatus?: DeploymentStatus } = {}): SimSubscription {
    const buyer = o.buyer ?? 2240;
    if (!this.users.has(buyer)) this.addUser(buyer);
    const type = o.type ?? "NORMAL";
    const now = Date.now();
    const sub: SimSubscription = {
      id, name: "OpenStack VDC - Base", type, buyer: { url: `user/${buyer}` }, product: { url: `product/${o.product ?? 12}` }, productVersion: { url: `productVersion/${o.productVersion ?? 77}` },
      paid: o.paid ?? type === "TRIAL",
      deploymentStatus: o.deploymentStatus ?? (type === "TRIAL" ? "PENDING" : "WAITING_PAYMENT"),
      billingItems: [],
      createdAt: now, updatedAt: now, startDate: null, endDate: Date.UTC(2027, 0, 1),
    };
    this.subscriptions.set(id, sub);
    this.setQuantities(id, o.quantities ?? { CPU_CORES: 4, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 });
    return sub;
  }

  setQuantities(id: number, q: Record<string, number | SimBillingItem>): void {
    const sub = this.must(id);
    sub.billingItems = Object.entries(q).map(([identifier, chosen], i) => {
      const item = typeof chosen === "number" ? { value: chosen } : chosen;
      return { url: `billingItem/${900 + i}`, identifier, unit: identifier.endsWith("_GB") ? "GB" : "unit", value: item.value, bought: item.bought ?? true, unlimited: item.unlimited ?? false, tag: item.tag ?? null };
    });
    sub.updatedAt = Date.now();
  }

  set(id: number, fields: Partial<SimSubscription>): void {
    Object.assign(this.must(id), fields, { updatedAt: Date.now() });
  }

  /**
   * `GET subscription/{id}` as Cloudesire writes it (apiVersion 20250109: SubscriptionDetailDTO <
   * BaseSubscriptionDetailDTO < BaseSubscriptionDTO < BaseSubscriptionV1DTO < NamedEntityDTO <
   * BaseEntityDTO): every field, unset ones null.
   */
  wireSubscription(id: number): string {
    const sub = this.must(id);
    const date = (ms: number | null) => (ms === null ? null : wireDate(ms));
    return wireJson({
      // BaseEntityDTO, NamedEntityDTO
      id: sub.id, self: `subscription/${sub.id}`, name: sub.name,
      // BaseSubscriptionV1DTO
      startDate: date(sub.startDate), endDate: date(sub.endDate),
      deploymentStatus: sub.deploymentStatus, // enums/DeploymentStatus, as its name
      virtualMachineInstance: [], deploymentStatusStory: [], deploymentLog: null, orders: [{ url: `order/${sub.id + 10_000}` }], invoices: [],
      billingPeriod: 1, // Integer: months
      billingPeriodStart: date(sub.startDate), lastInvoice: null, billingPeriodEnd: null, nextInvoice: null,
      type: sub.type, // OrderType: NORMAL | TRIAL | SANDBOX
      syndicatedEndpoints: null, // deprecated Set<String>
      endUserInstructions: this.instructions.get(id)?.en ?? null,
      product: sub.product, company: null, buyer: sub.buyer, // UrlEntityDTO {url}
      createdAt: date(sub.createdAt), updatedAt: date(sub.updatedAt),
      bandwidth: null, bandwidthInGB: null, // BigDecimal, BigInteger
      autoRenew: true, productBillingInfo: null, // boolean, String
      endpoints: this.endpoints.get(id) ?? [], // Set<EndpointDTO>
      productVersion: sub.productVersion, cloudProvider: null, coupon: null,
      paid: sub.paid, // boolean: "if every emitted invoice has been paid"
      // BaseSubscriptionDTO
      billingItems: sub.billingItems.map((b) => ({
        billingItem: { url: b.url }, // UrlEntityDTO
        identifier: b.identifier, unit: b.unit, // String
        value: scale10(b.value), // BigDecimal at DAY_SCALE_PRECISION (10)
        bought: b.bought, // Boolean
        tag: b.tag, // String, null unless a range is named
        unlimited: b.unlimited, // Boolean: the value is in the last range
        endpoint: null, // ApiEndpointDTO
      })),
      availableOperations: null, resellerSlug: null, resellerCatalog: null, cloudCredential: null,
      // BaseSubscriptionDetailDTO, SubscriptionDetailDTO
      credentials: null, possibleUpgrades: null, billingItemValues: null, oneshotCosts: null, recurringCosts: [], uptime: null, customerCredentialsPath: null,
      configurationParameters: [], // List<SubscriptionConfigurationParameterDTO>
    });
  }

  /** Cloudesire's subscription deleted (after UNDEPLOYED, or by an administrator): reads answer 404. */
  remove(id: number): void {
    this.subscriptions.delete(id);
  }

  /**
   * Sends a notification as the platform does, and resolves once it was acknowledged: retried with
   * exponential back-off (from 10 ms, at most 200 ms here) until a 204 or a 200.
   */
  notify(id: number | string, type: "CREATED" | "MODIFIED" | "DELETED", o: { entity?: string; idAsNumber?: boolean; secret?: string; maxAttempts?: number; metadata?: Record<string, unknown> | null; eventId?: number | null } = {}): Promise<void> {
    const entity = o.entity ?? "Subscription";
    // EventNotificationDTO: eventId Integer, entity String, date Date, type CmwEventType, entityUrl String,
    // metadata Map (null when the event carries none: Jackson writes the unset map as null); the docs' example
    // shows the id as a string, the class (BaseEntityDTO.id Integer) as a number.
    const body = wireJson({
      id: o.idAsNumber ? Number(id) : String(id), self: null, eventId: o.eventId === undefined ? ++this.eventIds : o.eventId,
      entity, date: wireDate(Date.now()), type, entityUrl: `${entity.toLowerCase()}/${id}`, metadata: o.metadata === undefined ? {} : o.metadata,
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
    const limit = this.limiter;
    if (limit && Date.now() - limit.windowStart >= limit.windowMs) Object.assign(limit, { windowStart: Date.now(), used: 0 });
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      const remaining = limit ? { "x-rate-limit-remaining": String(Math.max(0, limit.calls - limit.used)) } : {};
      res.writeHead(status, { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...remaining, ...headers });
      res.end(payload === undefined ? undefined : wireJson(payload));
    };
    const error = (status: number, key: string, text: string) => reply(status, { errorHolders: [{ key, error: text, extraFields: {} }] });

    if (req.headers["cmw-auth-token"] !== this.o.token) return error(401, "auth.invalid", "invalid or missing CMW-Auth-Token");
    if (call.apiVersion !== API_VERSION) return error(400, "apiVersion", `apiVersion ${API_VERSION} expected`);

    if (limit) {
      if (limit.used >= limit.calls) return reply(429, { errorHolders: [] }, { "x-rate-limit-retry-after-milliseconds": String(limit.windowStart + limit.windowMs - Date.now()) });
      limit.used++;
    }
    const fault = this.faults.find((f) => f.method === method && f.path.test(path) && f.times > 0);
    if (fault) fault.times--;
    if (fault?.kind === "5xx") return error(503, "service.unavailable", "temporarily unavailable");
    if (fault?.kind === "400") return error(400, "credential.key.invalid", "credential key invalid");
    if (fault?.kind === "429") return reply(429, { errorHolders: [] }, { "retry-after": "0" });
    if (fault?.kind === "rate-limit") return reply(429, { errorHolders: [] }, { "x-rate-limit-remaining": "0", "x-rate-limit-retry-after-milliseconds": String(fault.retryAfterMs ?? 300) });
    if (fault?.kind === "timeout-before") return this.hang(res, call);

    const outcome = this.apply(method, path, body, url.searchParams);
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

  private apply(method: string, path: string, body: unknown, query: URLSearchParams): { status: number; applied: boolean; payload?: unknown; headers?: Record<string, string>; error?: string } {
    if (method === "HEAD" && path === "subscription") return { status: 200, applied: false };
    const userPath = method === "GET" ? /^user\/(\d+)$/.exec(path) : null;
    if (userPath) {
      const m = userPath;
      const user = this.users.get(Number(m[1]));
      return user ? { status: 200, applied: false, payload: new JsonText(wireJson(user)) } : { status: 404, applied: false, error: "user not found" };
    }
    const fromCatalog = method === "GET" ? this.vendorCatalog.read(path, query) : undefined;
    if (fromCatalog !== undefined) return fromCatalog === null ? { status: 404, applied: false, error: `${path} not found` } : { status: 200, applied: false, payload: fromCatalog };
    const m = /^subscription\/(\d+)(?:\/(endpoints|instructions|credentials|metadata|invoice))?$/.exec(path);
    if (m) {
      const id = Number(m[1]);
      const sub = this.subscriptions.get(id);
      if (!sub) return { status: 404, applied: false, error: "subscription not found (or deleted recently)" };
      const part = m[2];
      if (method === "GET" && !part) return { status: 200, applied: false, payload: new JsonText(this.wireSubscription(id)) };
      if (method === "PATCH" && !part) {
        const patch = SubscriptionPatchDTO.safeParse(body);
        if (!patch.success) return { status: 400, applied: false, error: `SubscriptionPatchDTO: ${issues(patch.error)}` };
        if (patch.data.action === "SET_NAME") {
          // SubscriptionPatchDTO: action SET_NAME with a `name` (@Size(max = 255); NamedEntityDTO's is @NotEmpty).
          if (!patch.data.name) return { status: 400, applied: false, error: "name" };
          sub.name = patch.data.name;
          return { status: 200, applied: true, payload: {} };
        }
        // A vendor reports DEPLOYED, FAILED or UNDEPLOYED (docs/syndication.md); a name Jackson does not know reads as UNKNOWN.
        const status = patch.data.deploymentStatus;
        if (!status || !["DEPLOYED", "FAILED", "UNDEPLOYED"].includes(status)) return { status: 400, applied: false, error: "deploymentStatus" };
        sub.deploymentStatus = status;
        // "When the first billing period is started, after the successful provisioning" (BaseSubscriptionV1DTO.startDate).
        if (status === "DEPLOYED" && sub.startDate === null) sub.startDate = Date.now();
        sub.updatedAt = Date.now();
        this.patches.push({ subscription: id, deploymentStatus: status });
        return { status: 200, applied: true, payload: {} };
      }
      if (method === "POST" && part === "endpoints") {
        const parsed = EndpointDTO.array().safeParse(body);
        if (!parsed.success) return { status: 400, applied: false, error: `EndpointDTO: ${issues(parsed.error)}` };
        // docs/syndication.md: an APP endpoint is required, and endpoints are HTTPS.
        if (!parsed.data.some((e) => e.category === "APP") || parsed.data.some((e) => !e.endpoint.startsWith("https://"))) {
          return { status: 400, applied: false, error: "an APP endpoint is required and endpoints must be HTTPS" };
        }
        this.endpoints.set(id, parsed.data);
        return { status: 204, applied: true };
      }
      if (method === "POST" && part === "instructions") {
        const parsed = EndUserInstructions.safeParse(body);
        if (!parsed.success) return { status: 400, applied: false, error: `endUserInstructions: ${issues(parsed.error)}` };
        this.instructions.set(id, parsed.data);
        return { status: 204, applied: true };
      }
      if (method === "POST" && part === "credentials") {
        const parsed = ApplicationCredentialInputDTO.array().safeParse(body);
        if (!parsed.success) return { status: 400, applied: false, error: `ApplicationCredentialInputDTO: ${issues(parsed.error)}` };
        this.credentials.set(id, parsed.data.map((c) => ({ key: c.key, value: c.value ?? "" })));
        return { status: 204, applied: true };
      }
      if (method === "GET" && part === "metadata") return { status: 200, applied: false, payload: this.metadata.get(id) ?? {} };
      if (method === "PUT" && part === "metadata") {
        this.metadata.set(id, body as Record<string, unknown>);
        return { status: 204, applied: true };
      }
      if (method === "POST" && part === "invoice") {
        const parsed = VendorOrderLineDTO.array().safeParse(body);
        if (!parsed.success) return { status: 400, applied: false, error: `VendorOrderLineDTO: ${issues(parsed.error)}` };
        // docs/billing.md, "Custom billing": for an active subscription, in EUR or USD.
        if (sub.deploymentStatus === "UNDEPLOYED") return { status: 400, applied: false, error: "the subscription is not active" };
        if (parsed.data.some((l) => l.price.currency !== "EUR" && l.price.currency !== "USD")) return { status: 400, applied: false, error: "currency must be EUR or USD" };
        this.invoices.push({ subscription: id, lines: parsed.data });
        return { status: 201, applied: true, headers: { location: `invoice/${5000 + this.invoices.length}` } };
      }
    }
    return { status: 404, applied: false, error: `no route ${method} ${path}` };
  }
}

/** A validation failure as Cloudesire words it: the field and what is wrong. */
function issues(e: { issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string }> }): string {
  return e.issues.map((i) => `${i.path.map(String).join(".")}: ${i.message}`).join("; ");
}
