import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AdminCredentials } from "../../src/openstack/credentials.js";

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/openstack/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;
type Item = { id: string; [k: string]: unknown };

/**
 * Only for the admin token's renewal with a controllable clock (test/unit/openstack/admin-session.test.ts):
 * no real Keystone can be made to jump an hour ahead. It serves recorded Nova, Cinder and Neutron responses
 * (test/fixtures/openstack) for one project, on loopback, behind a Keystone token endpoint whose catalog
 * points at it. Everything else about those services is tested against the real ones (test/integration).
 * DELETEs remove items (servers and volumes after one more listing, as real deletions take a moment);
 * every mutating call is recorded in order.
 *
 * Tokens behave as Keystone's do: each login issues a new one with `issued_at` and `expires_at`
 * (`[token] expiration`, 3600 s by default: keystone.conf), and a service answers 401 to a token past its
 * `expires_at` or revoked (`DELETE /v3/auth/tokens`; keystonemiddleware's auth_token rejects both).
 * The real Keystone of the test cloud proves the same in test/integration/admin-session.test.ts.
 */
export class FakeOpenStack {
  readonly calls: string[] = [];
  /** Logins (`POST /v3/auth/tokens`), and requests refused with 401. */
  logins = 0;
  refused = 0;
  /** Tokens are refused from the moment they are issued (a Keystone that revokes each one at once). */
  revokeOnIssue = false;
  private tokens = new Map<string, { expiresAt: number; revoked: boolean }>();
  private server: Server | undefined;
  private state: Record<string, Item[]>;
  private deleting = new Set<string>();
  url = "";

  constructor(
    readonly projectId: string,
    private readonly opts: {
      empty?: boolean;
      /** Keystone's clock (Date.now by default); tests move it to reach a token's expiry. */
      now?: () => number;
      tokenLifetimeMs?: number;
    } = {},
  ) {
    const resources = fixture("project-resources.json") as Record<string, Item[]>;
    this.state = opts.empty ? Object.fromEntries(Object.keys(resources).map((k) => [k, []])) : structuredClone(resources);
  }

  credentials(): AdminCredentials {
    return { authUrl: `${this.url}/identity/v3`, username: "admin", password: "fake-admin-password", projectName: "admin", userDomainId: "default", projectDomainId: "default", interface: "public", source: "fake cloud" } as AdminCredentials;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body, headers }) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(body === undefined ? "" : JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  /** Every token issued so far is revoked, as `DELETE /v3/auth/tokens` or a password change does. */
  revokeTokens(): void {
    for (const t of this.tokens.values()) t.revoked = true;
  }

  remaining(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.state).filter(([k]) => k !== "router_ports").map(([k, v]) => [k, v.length]));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const url = new URL(req.url ?? "/", this.url);
    const path = url.pathname;
    const method = req.method ?? "GET";
    const body = await new Promise<string>((r) => {
      let b = "";
      req.on("data", (c: Buffer) => (b += c.toString()));
      req.on("end", () => r(b));
    });
    if (method === "POST" && path === "/identity/v3/auth/tokens") {
      const ep = (type: string, p: string) => ({ type, endpoints: [{ interface: "public", region_id: "RegionOne", url: `${this.url}${p}` }] });
      const issuedAt = (this.opts.now ?? Date.now)();
      const expiresAt = issuedAt + (this.opts.tokenLifetimeMs ?? 3_600_000);
      const token = `fake-token-${++this.logins}`;
      this.tokens.set(token, { expiresAt, revoked: this.revokeOnIssue });
      return {
        status: 201, headers: { "x-subject-token": token },
        body: { token: { issued_at: new Date(issuedAt).toISOString(), expires_at: new Date(expiresAt).toISOString(), roles: [{ id: "r", name: "admin" }], catalog: [ep("identity", "/identity/v3"), ep("compute", "/compute/v2.1"), ep("block-storage", "/volume/v3/admin-project"), ep("network", "/network")] } },
      };
    }
    const held = this.tokens.get(String(req.headers["x-auth-token"]));
    if (!held || held.revoked || (this.opts.now ?? Date.now)() >= held.expiresAt) {
      this.refused++;
      return { status: 401, body: { error: { code: 401, title: "Unauthorized", message: "The request you have made requires authentication." } } };
    }
    if (method !== "GET") this.calls.push(`${method} ${path}${body ? ` ${body}` : ""}`);
    const p = this.projectId;
    const routes: Array<[string, RegExp, (m: RegExpMatchArray) => { status: number; body?: unknown }]> = [
      ["GET", new RegExp(`^/compute/v2.1/os-quota-sets/${p}/detail$`), () => ({ status: 200, body: fixture("nova-quota-detail.json") })],
      ["GET", new RegExp(`^/volume/v3/admin-project/os-quota-sets/${p}$`), () => ({ status: 200, body: fixture("cinder-quota-usage.json") })],
      ["GET", new RegExp(`^/network/v2.0/quotas/${p}/details.json$`), () => ({ status: 200, body: fixture("neutron-quota-details.json") })],
      ["GET", /^\/compute\/v2.1\/servers\/detail$/, () => this.list("servers")],
      ["DELETE", /^\/compute\/v2.1\/servers\/(.+)$/, (m) => this.remove("servers", m[1] as string, 204, true)],
      ["GET", /^\/volume\/v3\/admin-project\/snapshots\/detail$/, () => this.list("snapshots")],
      ["DELETE", /^\/volume\/v3\/admin-project\/snapshots\/(.+)$/, (m) => this.remove("snapshots", m[1] as string, 202, true)],
      ["GET", /^\/volume\/v3\/admin-project\/volumes\/detail$/, () => this.list("volumes")],
      ["DELETE", /^\/volume\/v3\/admin-project\/volumes\/(.+)$/, (m) => this.volumeDelete(m[1] as string)],
      ["GET", /^\/network\/v2.0\/floatingips$/, () => this.list("floatingips")],
      ["DELETE", /^\/network\/v2.0\/floatingips\/(.+)$/, (m) => this.remove("floatingips", m[1] as string, 204)],
      ["GET", /^\/network\/v2.0\/routers$/, () => this.list("routers")],
      ["PUT", /^\/network\/v2.0\/routers\/([^/]+)\/remove_router_interface$/, (m) => this.removeInterface(m[1] as string, body)],
      ["PUT", /^\/network\/v2.0\/routers\/([^/]+)$/, (m) => this.clearGateway(m[1] as string)],
      ["DELETE", /^\/network\/v2.0\/routers\/(.+)$/, (m) => this.routerDelete(m[1] as string)],
      ["GET", /^\/network\/v2.0\/ports$/, () => (url.searchParams.get("device_id") ? { status: 200, body: { ports: this.state.router_ports?.filter((x) => x.device_id === url.searchParams.get("device_id")) } } : this.list("ports"))],
      ["DELETE", /^\/network\/v2.0\/ports\/(.+)$/, (m) => this.remove("ports", m[1] as string, 204)],
      ["GET", /^\/network\/v2.0\/networks$/, () => this.list("networks")],
      ["DELETE", /^\/network\/v2.0\/networks\/(.+)$/, (m) => this.networkDelete(m[1] as string)],
      ["GET", /^\/network\/v2.0\/security-groups$/, () => this.list("security_groups")],
      ["DELETE", /^\/network\/v2.0\/security-groups\/(.+)$/, (m) => this.remove("security_groups", m[1] as string, 204)],
    ];
    for (const [m, re, fn] of routes) {
      const match = method === m ? path.match(re) : null;
      if (match) return fn(match);
    }
    return { status: 404, body: { itemNotFound: { message: `${method} ${path}` } } };
  }

  private list(key: string) {
    // Asynchronous deletions: an item being deleted is listed once more, then it is gone.
    const items = this.state[key] ?? [];
    const out = { [key]: items };
    this.state[key] = items.filter((i) => !this.deleting.has(i.id));
    return { status: 200, body: out };
  }

  private remove(key: string, id: string, status: number, async = false) {
    if (!this.state[key]?.some((i) => i.id === id)) return { status: 404 };
    if (async) this.deleting.add(id);
    else this.state[key] = (this.state[key] ?? []).filter((i) => i.id !== id);
    return { status };
  }

  private volumeDelete(id: string) {
    // Cinder refuses a volume that still has snapshots, or is attached to a server that still exists.
    if (this.state.snapshots?.some((s) => s.volume_id === id)) return { status: 400 };
    return this.remove("volumes", id, 202, true);
  }

  private clearGateway(id: string) {
    const r = this.state.routers?.find((x) => x.id === id);
    if (!r) return { status: 404 };
    r.external_gateway_info = null;
    return { status: 200, body: { router: r } };
  }

  private removeInterface(id: string, body: string) {
    const portId = (JSON.parse(body) as { port_id: string }).port_id;
    this.state.router_ports = (this.state.router_ports ?? []).filter((x) => x.id !== portId);
    this.state.ports = (this.state.ports ?? []).filter((x) => x.id !== portId);
    return { status: 200, body: { id, port_id: portId } };
  }

  private routerDelete(id: string) {
    // Neutron: 409 while the router has a gateway or interfaces.
    const r = this.state.routers?.find((x) => x.id === id);
    if (r && (r.external_gateway_info || this.state.router_ports?.some((x) => x.device_id === id))) return { status: 409 };
    return this.remove("routers", id, 204);
  }

  private networkDelete(id: string) {
    // Neutron: 409 while ports other than DHCP's are on it.
    if (this.state.ports?.some((x) => !String(x.device_owner).startsWith("network:dhcp"))) return { status: 409 };
    this.state.ports = [];
    return this.remove("networks", id, 204);
  }
}
