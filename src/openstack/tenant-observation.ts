import { z } from "zod";
import { AppError } from "../domain/errors.js";
import { observationOf, type ObservedTenant, type TenantIds, type TenantObservation } from "../domain/tenant-observation.js";
import type { TenantSpec } from "../domain/tenant-spec.js";
import type { CloudClient } from "./cloud-client.js";
import { hasQuotaService, readQuotaSet, type QuotaService } from "./quota-sets.js";

// Keystone v3 bodies (identity API reference: "Show project details", "Show user details", "List role
// assignments"); `description` is absent on a user created without one, `options` lists only those set.
const ProjectBody = z.object({
  project: z.object({
    name: z.string(), description: z.string().nullish(), domain_id: z.string(), enabled: z.boolean(), tags: z.array(z.string()).default([]),
  }),
});
const UserBody = z.object({
  user: z.object({
    name: z.string(), description: z.string().nullish(), domain_id: z.string(), default_project_id: z.string().nullish(), enabled: z.boolean(),
    options: z.object({ ignore_change_password_upon_first_use: z.boolean().optional(), ignore_password_expiry: z.boolean().optional() }).passthrough().default({}),
  }),
});
const RoleAssignments = z.object({ role_assignments: z.array(z.object({ role: z.object({ id: z.string(), name: z.string().optional() }) })) });

export interface ObservationOptions {
  /** Attempts per request when the service is unreachable or answers 5xx (as the Gnocchi client: 4). */
  attempts?: number;
  /** First retry delay, doubled each attempt. */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const QUOTA_SERVICES: QuotaService[] = ["compute", "blockStorage", "network"];

/**
 * Reads one tenant as OpenStack reports it (null: its project is gone), in 6 admin requests (the token is the shared admin session's):
 * Keystone `GET /projects/{p}`, then, only if the project exists, `GET /users/{u}`, `GET
 * /role_assignments?user.id={u}&scope.project.id={p}&include_names` (one list, so no role id lookup and no
 * 404 to tell from a missing role), and the three quota sets (Nova and Cinder `os-quota-sets/{p}`, Neutron
 * `quotas/{p}`), those five at once. A project that is gone costs 1 request.
 */
export async function readTenant(client: CloudClient, ids: TenantIds, memberRole: string, o: ObservationOptions = {}): Promise<ObservedTenant | null> {
  const retry = retrying(o);
  const p = encodeURIComponent(ids.projectId);
  const u = encodeURIComponent(ids.userId);
  const project = await retry(() => client.find("identity", `/projects/${p}`, ProjectBody));
  if (!project) return null;
  const [user, roles, compute, blockStorage, network] = await Promise.all([
    retry(() => client.find("identity", `/users/${u}`, UserBody)),
    retry(() => client.request("identity", "GET", `/role_assignments?user.id=${u}&scope.project.id=${p}&include_names=true`, RoleAssignments)),
    ...QUOTA_SERVICES.map((s) => retry(() => readQuotaSet(client, ids.projectId, s))),
  ] as const);
  const pr = project.project;
  const us = user?.user;
  return {
    project: { name: pr.name, description: pr.description ?? "", domainId: pr.domain_id, enabled: pr.enabled, tags: pr.tags },
    user: us
      ? {
          name: us.name, description: us.description ?? "", domainId: us.domain_id, defaultProjectId: us.default_project_id ?? null, enabled: us.enabled,
          ignoreChangePasswordUponFirstUse: us.options.ignore_change_password_upon_first_use === true,
          ignorePasswordExpiry: us.options.ignore_password_expiry === true,
        }
      : null,
    memberRole: roles.role_assignments.some((a) => a.role.name === memberRole),
    quotas: { compute, blockStorage, network } as ObservedTenant["quotas"],
  };
}

/**
 * Compares the tenant OpenStack reports with what its stack declares. Never throws: a cloud that cannot be
 * read (down after the retries, a refused token, a body of an unexpected shape, a quota service missing
 * from the catalog) is `unknown`, and the caller pays for the engine's refresh preview instead.
 */
export async function observeTenant(client: CloudClient, ids: TenantIds, spec: TenantSpec, o: ObservationOptions = {}): Promise<TenantObservation> {
  try {
    for (const s of QUOTA_SERVICES) {
      // The catalog comes with the admin token: no request. Without the service there is nothing to compare.
      if (!(await hasQuotaService(client, s))) return { state: "unknown", reason: `the ${s} quota service is not in the Keystone catalog` };
    }
    return observationOf(spec, ids, await readTenant(client, ids, spec.memberRole, o));
  } catch (e) {
    return { state: "unknown", reason: e instanceof Error ? e.message : String(e) };
  }
}

/** Retries what may pass on a second try (unreachable, 5xx: `unavailable`); a 4xx or a bad body will not. */
function retrying(o: ObservationOptions) {
  const attempts = o.attempts ?? 4;
  const backoffMs = o.backoffMs ?? 500;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof AppError && e.kind === "unavailable") || attempt >= attempts) throw e;
        await sleep(backoffMs * 2 ** (attempt - 1));
      }
    }
  };
}
