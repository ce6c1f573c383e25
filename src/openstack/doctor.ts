import { AppError } from "../domain/errors.js";
import type { CredentialResult } from "./credentials.js";
import { CATALOG_TYPES, CloudClient } from "./cloud-client.js";
import { authenticate, findRole } from "./keystone.js";
import { hasQuotaService, readQuotaSet, type QuotaService } from "./quota-sets.js";

export interface Finding {
  /** fail: provisioning cannot work; warn: some feature will not (a missing catalog service). */
  status: "ok" | "warn" | "fail";
  check: string;
  message: string;
}

/**
 * Services a tenant's quotas and metering need in the catalog, by the Keystone service types the clients
 * accept for them (the quota clients' own list, cloud-client.ts CATALOG_TYPES: a cloud naming block storage
 * `volumev3` or `block-storage` passes here exactly when the clients find it).
 */
const CATALOG_SERVICES: Array<{ name: string; types: readonly string[]; why: string }> = [
  { name: "identity", types: ["identity"], why: "projects and users" },
  { name: "compute", types: CATALOG_TYPES.compute, why: "compute quotas" },
  { name: "block-storage", types: CATALOG_TYPES["block-storage"], why: "block storage quotas" },
  { name: "network", types: CATALOG_TYPES.network, why: "network quotas" },
  { name: "metric", types: ["metric"], why: "pay-as-you-go metering (Gnocchi)" },
];

/**
 * Checks, against the real cloud, what provisioning needs: the admin credentials authenticate, the member
 * role exists, and which catalog services are present. One finding per line; never throws.
 */
export async function doctor(creds: CredentialResult, memberRole: string, fetchImpl: typeof fetch = fetch): Promise<Finding[]> {
  if (!creds.ok) return [{ status: "fail", check: "credentials", message: creds.problem }];
  const c = creds.credentials;
  const findings: Finding[] = [{ status: "ok", check: "credentials", message: `admin credentials from ${c.source}` }];
  try {
    const session = await authenticate(c, fetchImpl);
    findings.push({ status: "ok", check: "keystone", message: `authenticated to ${c.authUrl} as ${c.username} (roles: ${session.roles.join(", ") || "none"})` });
    if (!session.roles.includes("admin")) {
      findings.push({ status: "fail", check: "admin role", message: `${c.username} has no admin role on its project: it cannot create projects and users` });
    }
    const role = await findRole(session, memberRole, fetchImpl);
    findings.push(
      role
        ? { status: "ok", check: "member role", message: `role '${memberRole}' exists (${role.id})` }
        : { status: "fail", check: "member role", message: `role '${memberRole}' does not exist in Keystone (set TENANT_MEMBER_ROLE to an existing role)` },
    );
    const types = new Set(session.catalog.map((s) => s.type));
    for (const s of CATALOG_SERVICES) {
      const found = s.types.find((t) => types.has(t));
      findings.push({ status: found ? "ok" : s.name === "identity" ? "fail" : "warn", check: `catalog ${s.name}`, message: found ? `${found} service present (${s.why})` : `no ${s.types.join(" / ")} service in the catalog: ${s.why} will fail` });
    }
    findings.push(...(await quotaReads(new CloudClient(c, fetchImpl), session.projectId)));
  } catch (e) {
    findings.push({ status: "fail", check: "keystone", message: messageOf(e) });
  }
  return findings;
}

/** What the quota read shows of each quota set, in the units a customer buys. */
const SHOWN: Record<QuotaService, (q: Record<string, number>) => string> = {
  compute: (q) => `cores ${q.cores}, ram ${q.ram} MB, instances ${q.instances}`,
  blockStorage: (q) => `gigabytes ${q.gigabytes}, volumes ${q.volumes}`,
  network: (q) => `floatingip ${q.floatingip}, network ${q.network}, router ${q.router}`,
};

/**
 * One quota read per service in the catalog, on the admin's own project: the same GET the engine's
 * provider and the tenant guard make, so a policy or endpoint problem shows here and not at a customer.
 */
async function quotaReads(client: CloudClient, projectId: string | null): Promise<Finding[]> {
  if (!projectId) return [{ status: "warn", check: "quota read", message: "the admin token is not scoped to a project: no quota read tried" }];
  const out: Finding[] = [];
  for (const service of Object.keys(SHOWN) as QuotaService[]) {
    const check = `quota ${service}`;
    try {
      if (!(await hasQuotaService(client, service))) continue; // reported above as a missing catalog service
      const q = (await readQuotaSet(client, projectId, service)) as Record<string, number>;
      out.push({ status: "ok", check, message: `read the ${service} quota set of the admin's project (${SHOWN[service](q)})` });
    } catch (e) {
      out.push({ status: "fail", check, message: `cannot read the ${service} quota set: ${messageOf(e)}` });
    }
  }
  return out;
}

function messageOf(e: unknown): string {
  return e instanceof AppError ? e.message : `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
}
