import { z } from "zod";
import { unauthorized, unavailable, upstream } from "../domain/errors.js";
import type { AdminCredentials } from "./credentials.js";

const CatalogEntry = z.object({
  type: z.string(),
  name: z.string().optional(),
  endpoints: z.array(z.object({ interface: z.string(), region_id: z.string().nullable().optional(), url: z.string() })),
});
const TokenBody = z.object({
  token: z.object({
    expires_at: z.string().datetime({ offset: true }),
    issued_at: z.string().datetime({ offset: true }).optional(),
    roles: z.array(z.object({ id: z.string(), name: z.string() })).optional(),
    project: z.object({ id: z.string(), name: z.string() }).optional(),
    catalog: z.array(CatalogEntry).optional(),
  }),
});
export type Catalog = z.infer<typeof CatalogEntry>[];

/**
 * The URL of the first of `types` (a service's current and older catalog names) that the catalog lists
 * at the admin's interface and region, as the `openstack` CLI picks it (an endpoint without a region
 * serves every region); null when this cloud does not run it.
 */
export function endpointOf(catalog: Catalog, types: readonly string[], at: Pick<AdminCredentials, "interface" | "regionName">): string | null {
  for (const type of types) {
    const entry = catalog.find((s) => s.type === type);
    const ep = entry?.endpoints.find((e) => e.interface === at.interface && (!at.regionName || !e.region_id || e.region_id === at.regionName));
    if (ep) return ep.url.replace(/\/+$/, "");
  }
  return null;
}

export interface KeystoneSession {
  token: string;
  authUrl: string;
  roles: string[];
  catalog: Catalog;
  /** How long Keystone said the token lives (`expires_at - issued_at`; `[token] expiration`, 1 h by default). */
  lifetimeMs: number;
  /** Keystone's `expires_at`, as Keystone's clock reads it. */
  expiresAt: string;
  /** The project the token is scoped to (the admin's own). */
  projectId: string | null;
}

const TIMEOUT_MS = 10_000;

/**
 * Password authentication scoped to the admin's project (Keystone v3), the way the `openstack` CLI does
 * it. Failures are typed errors with a message an operator can act on; the password never appears in one.
 */
export async function authenticate(creds: AdminCredentials, fetchImpl: typeof fetch = fetch): Promise<KeystoneSession> {
  const userDomain = creds.userDomainId ? { id: creds.userDomainId } : { name: creds.userDomainName ?? "Default" };
  const projectDomain = creds.projectDomainId ? { id: creds.projectDomainId } : { name: creds.projectDomainName ?? "Default" };
  const scope = creds.projectId
    ? { project: { id: creds.projectId } }
    : { project: { name: creds.projectName, domain: projectDomain } };
  const url = `${creds.authUrl.replace(/\/+$/, "")}/auth/tokens`;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        auth: { identity: { methods: ["password"], password: { user: { name: creds.username, domain: userDomain, password: creds.password } } }, scope },
      }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    throw unavailable(`cannot reach Keystone at ${creds.authUrl} (${causeOf(e)})`);
  }
  if (res.status === 401) throw unauthorized(`Keystone refused the admin credentials from ${creds.source} (wrong username, password or domain)`);
  if (res.status === 404) throw upstream(`${creds.authUrl} does not look like a Keystone v3 endpoint (POST /auth/tokens: 404); auth URLs end in /v3`);
  if (!res.ok) throw upstream(`Keystone answered ${res.status} to the admin login at ${creds.authUrl}`);
  const token = res.headers.get("x-subject-token");
  const body = TokenBody.safeParse(await res.json().catch(() => null));
  if (!token || !body.success) throw upstream(`Keystone at ${creds.authUrl} answered the login with an unexpected body`);
  const { expires_at, issued_at } = body.data.token;
  return {
    token,
    authUrl: creds.authUrl,
    roles: (body.data.token.roles ?? []).map((r) => r.name),
    catalog: body.data.token.catalog ?? [],
    // Without issued_at (Keystone always sends it) the lifetime is read against our own clock.
    lifetimeMs: Date.parse(expires_at) - (issued_at ? Date.parse(issued_at) : Date.now()),
    expiresAt: expires_at,
    projectId: body.data.token.project?.id ?? null,
  };
}

const RolesBody = z.object({ roles: z.array(z.object({ id: z.string(), name: z.string() })) });

export async function findRole(session: KeystoneSession, name: string, fetchImpl: typeof fetch = fetch): Promise<{ id: string; name: string } | null> {
  const url = `${session.authUrl.replace(/\/+$/, "")}/roles?name=${encodeURIComponent(name)}`;
  let res: Response;
  try {
    res = await fetchImpl(url, { headers: { "x-auth-token": session.token }, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    throw unavailable(`cannot reach Keystone at ${session.authUrl} (${causeOf(e)})`);
  }
  if (res.status === 403) throw unauthorized("the admin credentials may not list roles (they need the admin role)");
  if (!res.ok) throw upstream(`Keystone answered ${res.status} to GET /roles`);
  const body = RolesBody.safeParse(await res.json().catch(() => null));
  if (!body.success) throw upstream("Keystone answered GET /roles with an unexpected body");
  return body.data.roles.find((r) => r.name === name) ?? null;
}

function causeOf(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
    if (e.name === "TimeoutError") return `no answer in ${TIMEOUT_MS / 1000}s`;
    return cause?.code ?? cause?.message ?? e.message;
  }
  return String(e);
}
