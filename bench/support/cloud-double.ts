import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { TenantIds } from "../../src/domain/tenant-observation.js";
import type { TenantSpec } from "../../src/domain/tenant-spec.js";
import type { AdminCredentials } from "../../src/openstack/credentials.js";
import { toApi } from "../../src/openstack/quota-sets.js";

/**
 * A BENCH INSTRUMENT, NOT A CLOUD. It lets bench/scale.ts measure what one drift sweep costs at 10,000
 * stacks (how many OpenStack requests the pre-check makes, and how many engine calls it spares) without
 * 10,000 real tenants. It knows nothing OpenStack would tell: it answers, for each tenant the engine double
 * applied, exactly what that stack declared (`declare`), so every tenant is in sync by construction. That the
 * observation reads the real services right and sees real drift is proven elsewhere, on the real Keystone,
 * Nova, Cinder and Neutron: test/integration/drift-observation.test.ts.
 *
 * It answers only the requests of a drift pre-check (src/openstack/tenant-observation.ts through
 * cloud-client.ts and admin-session.ts), in the shapes their zod schemas accept:
 *   POST /v3/auth/tokens                      the admin login (keystone.ts TokenBody: x-subject-token, a
 *                                             catalog with compute, volumev3 and network on this server)
 *   GET  /v3/projects/{p}, /v3/users/{u}      Keystone "Show project/user details"
 *   GET  /v3/role_assignments?user.id&scope.project.id&include_names
 *   GET  /compute/v2.1/os-quota-sets/{p}      Nova, { quota_set }
 *   GET  /volume/v3/os-quota-sets/{p}         Cinder, { quota_set }
 *   GET  /network/v2.0/quotas/{p}             Neutron, { quota }
 * Anything else is a 404 counted under "unanswered <METHOD> <path>", so a request the bench did not expect
 * shows in its figures instead of passing unseen. Every request is counted by route.
 */
interface Answer {
  route: string;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** 200 with the body, or 404 as OpenStack answers for an unknown id. */
const found = (route: string, body: unknown): Answer => (body ? { route, status: 200, body } : { route, status: 404, body: { error: { code: 404, message: "not found" } } });

/** Admin credentials whose auth URL is the double's Keystone at `url` (any password passes). */
export function cloudDoubleCredentials(url: string): AdminCredentials {
  return { authUrl: `${url}/v3`, username: "admin", password: "bench-admin-password", projectName: "admin", userDomainName: "Default", projectDomainName: "Default", interface: "public", source: "the scale bench's cloud double" };
}

export class CloudDouble {
  /** Requests by route ("keystone GET /projects/{id}"), since the start or the last `resetCounts`. */
  counts: Record<string, number> = {};
  private readonly byProject = new Map<string, { ids: TenantIds; spec: TenantSpec }>();
  private readonly byUser = new Map<string, { ids: TenantIds; spec: TenantSpec }>();
  private server: Server | undefined;
  private tokens = 0;
  url = "";

  /** What the stack of these ids now declares (the engine double just applied it). */
  declare(ids: TenantIds, spec: TenantSpec): void {
    const tenant = { ids, spec };
    this.byProject.set(ids.projectId, tenant);
    this.byUser.set(ids.userId, tenant);
  }

  /** The stack was destroyed: its project and user are gone (404, as Keystone answers). */
  forget(ids: TenantIds): void {
    this.byProject.delete(ids.projectId);
    this.byUser.delete(ids.userId);
  }

  get tenants(): number {
    return this.byProject.size;
  }

  resetCounts(): void {
    this.counts = {};
  }

  credentials(): AdminCredentials {
    return cloudDoubleCredentials(this.url);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // Bodies are read and dropped: the login's credentials are not checked (the double authenticates no one).
    req.resume();
    req.once("end", () => {
      const { route, status, body, headers } = this.answer(req.method ?? "GET", new URL(req.url ?? "/", this.url));
      this.counts[route] = (this.counts[route] ?? 0) + 1;
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    });
  }

  private answer(method: string, url: URL): Answer {
    const path = url.pathname;
    if (method === "POST" && path === "/v3/auth/tokens") return { route: "keystone POST /auth/tokens", status: 201, body: this.token(), headers: { "x-subject-token": `bench-token-${++this.tokens}` } };
    const last = decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
    const under = (prefix: string) => method === "GET" && path.startsWith(prefix) && path.lastIndexOf("/") === prefix.length - 1;
    if (under("/v3/projects/")) {
      const t = this.byProject.get(last);
      const s = t?.spec;
      return found("keystone GET /projects/{id}", t && s && { project: { id: t.ids.projectId, name: s.projectName, description: s.description, domain_id: s.domainId, enabled: s.enabled, tags: s.tags, is_domain: false, parent_id: s.domainId } });
    }
    if (under("/v3/users/")) {
      const t = this.byUser.get(last);
      const s = t?.spec;
      // The program sets both options on every user it creates (src/program/tenant.ts).
      return found("keystone GET /users/{id}", t && s && { user: { id: t.ids.userId, name: s.userName, description: s.description, domain_id: s.domainId, default_project_id: t.ids.projectId, enabled: s.enabled, options: { ignore_change_password_upon_first_use: true, ignore_password_expiry: true } } });
    }
    if (method === "GET" && path === "/v3/role_assignments") {
      const t = this.byUser.get(url.searchParams.get("user.id") ?? "");
      const held = t !== undefined && t.ids.projectId === url.searchParams.get("scope.project.id");
      return { route: "keystone GET /role_assignments", status: 200, body: { role_assignments: held ? [{ role: { id: "role-member", name: t.spec.memberRole }, user: { id: t.ids.userId }, scope: { project: { id: t.ids.projectId } } }] : [] } };
    }
    // Real Nova and Cinder answer their defaults for any project id; the bench only asks about declared ones.
    if (under("/compute/v2.1/os-quota-sets/")) return found("nova GET /os-quota-sets/{id}", this.quota(last, "compute"));
    if (under("/volume/v3/os-quota-sets/")) return found("cinder GET /os-quota-sets/{id}", this.quota(last, "blockStorage"));
    if (under("/network/v2.0/quotas/")) return found("neutron GET /v2.0/quotas/{id}", this.quota(last, "network"));
    return found(`unanswered ${method} ${path}`, undefined);
  }

  private quota(projectId: string, service: "compute" | "blockStorage" | "network"): unknown {
    const t = this.byProject.get(projectId);
    if (!t) return undefined;
    const fields = toApi(service, t.spec.quotas[service]);
    return service === "network" ? { quota: fields } : { quota_set: { id: t.ids.projectId, ...fields } };
  }

  /** Keystone's token body (keystone.ts TokenBody): an hour's lifetime, as `[token] expiration` by default. */
  private token() {
    const issued = new Date();
    const endpoint = (type: string, name: string, path: string) => ({ type, name, endpoints: [{ interface: "public", region_id: "RegionOne", url: `${this.url}${path}` }] });
    return {
      token: {
        issued_at: issued.toISOString(),
        expires_at: new Date(issued.getTime() + 3600_000).toISOString(),
        roles: [{ id: "role-admin", name: "admin" }],
        project: { id: "admin-project", name: "admin" },
        catalog: [
          endpoint("identity", "keystone", "/v3"),
          endpoint("compute", "nova", "/compute/v2.1"),
          endpoint("volumev3", "cinderv3", "/volume/v3"),
          endpoint("network", "neutron", "/network"),
        ],
      },
    };
  }
}
