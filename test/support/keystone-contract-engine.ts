import { z } from "zod";
import type { TenantSpec } from "../../src/domain/tenant-spec.js";
import { authenticate, type KeystoneSession } from "../../src/openstack/keystone.js";
import type { AdminCredentials } from "../../src/openstack/credentials.js";
import type { DriftReport, Engine, HistoryEntry, Leftovers, OperationSummary, PreviewResult, StackChange } from "../../src/provisioning/engine.js";
import type { StackOutputs } from "../../src/domain/lifecycle.js";
import { renderTenant, type DeclaredResource } from "../../src/program/render.js";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { applyQuotaResource, PROVIDER_QUOTA_RESOURCES, type QuotaState } from "./provider-quota-calls.js";

/**
 * Test-only: applies through the real services' REST APIs exactly the inputs that the Pulumi program
 * declares (rendered under setMocks): project, user and role assignment through Keystone, so that a real
 * Keystone judges names, domains, roles, options and the enabled flag; and the three quota sets through
 * Nova, Cinder and Neutron with the very calls the bundled provider makes, quirks included
 * (./provider-quota-calls.ts: Neutron's create drops zero values). It stands in for the engine only where
 * the Pulumi CLI cannot run.
 */
export class KeystoneContractEngine implements Engine {
  private session: KeystoneSession | undefined;
  private readonly cloud: CloudClient;
  private readonly stacks = new Map<string, { projectId: string; userId: string; password: string; spec: TenantSpec; quotas: Record<string, QuotaState> }>();
  /** Every Keystone request body sent, for assertions. */
  readonly applied: Array<{ method: string; path: string; body?: unknown }> = [];
  /** Every quota write the provider would make, per stack: resource type and the attributes sent. */
  readonly quotaWrites: Array<{ stack: string; type: string; sent: Record<string, number> }> = [];

  constructor(private readonly admin: AdminCredentials) {
    this.cloud = new CloudClient(admin);
  }

  /** The spec of the stack's last `up` (what the reconciler asked for). */
  specOf(stack: string): TenantSpec | undefined {
    return this.stacks.get(stack)?.spec;
  }

  /** Ids a create left in Keystone without recording them (a `pulumi up` killed midway: pending creates). */
  private readonly adopted = new Map<string, { projectId: string; userId: string }>();

  /**
   * As if the `pulumi up` creating `req.stack` was killed after Keystone created the project and user:
   * they exist in the real Keystone, the stack knows nothing of them.
   */
  async interruptCreate(req: Pick<StackChange, "stack" | "spec" | "password">): Promise<{ projectId: string; userId: string }> {
    await this.up({ ...req, message: "interrupted create" });
    const made = this.stacks.get(req.stack);
    this.stacks.delete(req.stack);
    if (!made) throw new Error("the interrupted create made nothing");
    return { projectId: made.projectId, userId: made.userId };
  }

  async adopt(req: { stack: string; found: Leftovers }): Promise<string[]> {
    if (!req.found.projectId || !req.found.userId || this.stacks.has(req.stack)) return [];
    // `pulumi import` of both: the stack now knows them; the next up updates them in place.
    this.adopted.set(req.stack, { projectId: req.found.projectId, userId: req.found.userId });
    return [`project ${req.found.projectId}`, `user ${req.found.userId}`];
  }

  async up(req: StackChange): Promise<OperationSummary> {
    const imported = this.adopted.get(req.stack);
    if (imported) {
      this.adopted.delete(req.stack);
      // Only the project and user were imported: the quota sets are created by this update.
      this.stacks.set(req.stack, { ...imported, password: "", spec: req.spec, quotas: {} });
    }
    const existing = this.stacks.get(req.stack);
    const password = req.password;
    const declared = await renderTenant(req.spec, password);
    const project = input(declared, "openstack:identity/project:Project");
    const user = input(declared, "openstack:identity/user:User");
    const member = input(declared, "openstack:identity/roleAssignment:RoleAssignment");
    if (existing) {
      await this.call("PATCH", `/projects/${existing.projectId}`, { project: { description: project.description, enabled: project.enabled, tags: project.tags } });
      await this.call("PATCH", `/users/${existing.userId}`, {
        user: { description: user.description, enabled: user.enabled, ...(existing.password !== password ? { password } : {}) },
      });
      const quotas = await this.applyQuotas(req.stack, existing.projectId, declared, existing.quotas);
      this.stacks.set(req.stack, { ...existing, password, spec: req.spec, quotas: quotas.state });
      return { resourceChanges: { same: 4 - quotas.updated, update: 2 + quotas.updated } };
    }
    const created = (await this.call("POST", "/projects", {
      project: { name: project.name, description: project.description, domain_id: project.domainId, enabled: project.enabled, tags: project.tags },
    })) as { project: { id: string } };
    const projectId = created.project.id;
    const createdUser = (await this.call("POST", "/users", {
      user: {
        name: user.name, description: user.description, domain_id: user.domainId, enabled: user.enabled,
        default_project_id: user.defaultProjectId === "project-id" ? projectId : user.defaultProjectId,
        password, // the program declares it as a secret ("[secret]" in the render); this is its value
        options: { ignore_change_password_upon_first_use: user.ignoreChangePasswordUponFirstUse, ignore_password_expiry: user.ignorePasswordExpiry },
      },
    })) as { user: { id: string } };
    const userId = createdUser.user.id;
    // The program looks the role up by name (identity.getRole); the mock answered `role-<name>-id`.
    const roleName = String(member.roleId).replace(/^role-(.*)-id$/, "$1");
    const roles = (await this.call("GET", `/roles?name=${encodeURIComponent(roleName)}`)) as { roles: Array<{ id: string }> };
    const roleId = roles.roles[0]?.id;
    if (!roleId) throw new Error(`role ${roleName} not found in Keystone`);
    await this.call("PUT", `/projects/${projectId}/users/${userId}/roles/${roleId}`);
    const quotas = await this.applyQuotas(req.stack, projectId, declared, {});
    this.stacks.set(req.stack, { projectId, userId, password, spec: req.spec, quotas: quotas.state });
    return { resourceChanges: { create: 6 } };
  }

  private readonly regional = new Map<string, CloudClient>();
  /**
   * The provider's client for a resource: its `region` input when set, else the provider's own region
   * (terraform-provider-openstack util.go GetRegion: d.Get("region"), then config.Region).
   */
  private cloudIn(region: unknown): CloudClient {
    if (typeof region !== "string" || region === "" || region === this.admin.regionName) return this.cloud;
    const c = this.regional.get(region) ?? new CloudClient({ ...this.admin, regionName: region });
    this.regional.set(region, c);
    return c;
  }

  /** The quota resources in declaration order, each created (no state yet) or updated against its state. */
  private async applyQuotas(stack: string, projectId: string, declared: DeclaredResource[], previous: Record<string, QuotaState>) {
    const state: Record<string, QuotaState> = {};
    let updated = 0;
    for (const r of declared.filter((d) => PROVIDER_QUOTA_RESOURCES[d.type])) {
      const applied = await applyQuotaResource(this.cloudIn(r.inputs.region), projectId, r, previous[r.type]);
      state[r.type] = applied.state;
      if (applied.sent) {
        this.quotaWrites.push({ stack, type: r.type, sent: applied.sent });
        if (previous[r.type]) updated++;
      }
    }
    return { state, updated };
  }

  async destroy(req: { stack: string }): Promise<OperationSummary> {
    const s = this.stacks.get(req.stack);
    if (!s) return { resourceChanges: {} };
    // The quota resources' Delete is schema.RemoveFromState (provider v1.54.1): no call to Nova, Cinder or Neutron.
    await this.call("DELETE", `/users/${s.userId}`);
    await this.call("DELETE", `/projects/${s.projectId}`);
    this.stacks.delete(req.stack);
    return { resourceChanges: { delete: 6 } };
  }

  async outputs(stack: string): Promise<StackOutputs | null> {
    const s = this.stacks.get(stack);
    if (!s) return null;
    return { projectId: s.projectId, userId: s.userId, userName: s.spec.userName, authUrl: s.spec.authUrl, region: s.spec.region, domainId: s.spec.domainId, password: s.password };
  }

  async preview(): Promise<PreviewResult> {
    throw new Error("preview is not part of the Keystone contract");
  }
  async breakLocks(): Promise<void> {}

  async drift(): Promise<DriftReport | null> {
    throw new Error("the Keystone contract engine does not detect drift");
  }

  /** `pulumi refresh` of the quota resources: each one's Read (a GET) becomes its state. */
  async refresh(req: { stack: string }): Promise<OperationSummary> {
    const s = this.stacks.get(req.stack);
    if (!s) return { resourceChanges: {} };
    let changed = 0;
    for (const [type, before] of Object.entries(s.quotas)) {
      const spec = PROVIDER_QUOTA_RESOURCES[type];
      if (!spec) continue;
      const path = spec.path(encodeURIComponent(s.projectId));
      const read = (await this.cloud.request(spec.service, "GET", path, z.object({ [spec.key]: z.record(z.string(), z.unknown()) }))) as Record<string, Record<string, unknown>>;
      const got = read[spec.key] ?? {};
      const after = Object.fromEntries(spec.attributes.map((a) => [a, Number(got[a])]));
      if (JSON.stringify(after) !== JSON.stringify(before)) changed++;
      s.quotas[type] = after;
    }
    return { resourceChanges: { same: 6 - changed, update: changed } };
  }
  async history(): Promise<HistoryEntry[]> {
    return [];
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    this.session ??= await authenticate(this.admin);
    this.applied.push({ method, path, body });
    const res = await fetch(`${this.admin.authUrl}${path}`, {
      method,
      headers: { "x-auth-token": this.session.token, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`Keystone ${method} ${path} → ${res.status}: ${await res.text()}`);
    return res.status === 204 ? null : res.json();
  }
}

function input(declared: DeclaredResource[], type: string): Record<string, unknown> {
  const r = declared.find((d) => d.type === type);
  if (!r) throw new Error(`the program declared no ${type}`);
  return r.inputs;
}
