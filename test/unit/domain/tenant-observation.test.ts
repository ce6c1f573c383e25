import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_QUOTA_DEFAULTS, type QuotaSets } from "../../../src/domain/quota.js";
import { foldEvent, type DesiredState } from "../../../src/domain/subscription.js";
import { observationOf, tenantDifferences, type ObservedTenant } from "../../../src/domain/tenant-observation.js";
import { tenantSpecOf, type TenantSpec } from "../../../src/domain/tenant-spec.js";
import { event, PREPAID } from "../../support/events.js";
import { SETTINGS } from "../../support/settings.js";

const IDS = { projectId: "p-1", userId: "u-1" };

function specFor(opts: Parameters<typeof event>[2] = {}, settings = SETTINGS, suspended = false): TenantSpec {
  let state = foldEvent(null, event("42", "subscription.created", opts)).state as DesiredState;
  if (suspended) state = foldEvent(state, event("42", "subscription.suspended", opts)).state as DesiredState;
  return tenantSpecOf(state, settings);
}

/** The tenant exactly as the stack declares it, as Keystone, Nova, Cinder and Neutron would report it. */
function asDeclared(spec: TenantSpec): ObservedTenant {
  return {
    project: { name: spec.projectName, description: spec.description, domainId: spec.domainId, enabled: spec.enabled, tags: [...spec.tags] },
    user: {
      name: spec.userName, description: spec.description, domainId: spec.domainId, defaultProjectId: IDS.projectId, enabled: spec.enabled,
      ignoreChangePasswordUponFirstUse: true, ignorePasswordExpiry: true,
    },
    memberRole: true,
    quotas: structuredClone(spec.quotas),
  };
}

describe("comparing a tenant as OpenStack reports it with what its stack declares", () => {
  it("a tenant exactly as declared is in sync, whatever order Keystone lists its tags in", () => {
    const spec = specFor();
    expect(observationOf(spec, IDS, asDeclared(spec))).toEqual({ state: "in_sync" });
    const seen = asDeclared(spec);
    seen.project.tags.reverse();
    expect(tenantDifferences(spec, IDS, seen)).toEqual([]);
  });

  it("a user disabled by hand is an update of the user's `enabled`, named as a refresh preview names it", () => {
    const spec = specFor();
    const seen = asDeclared(spec);
    if (seen.user) seen.user.enabled = false;
    expect(observationOf(spec, IDS, seen)).toEqual({
      state: "differs",
      differences: [{ resource: "user", type: "openstack:identity/user:User", change: "update", properties: ["enabled"] }],
    });
  });

  it("a suspended tenant is in sync with its project and user disabled, and differs when someone enables them again", () => {
    const spec = specFor({}, SETTINGS, true);
    expect(spec.enabled).toBe(false);
    expect(tenantDifferences(spec, IDS, asDeclared(spec))).toEqual([]);
    const seen = asDeclared(spec);
    seen.project.enabled = true;
    expect(tenantDifferences(spec, IDS, seen)).toEqual([{ resource: "project", type: "openstack:identity/project:Project", change: "update", properties: ["enabled"] }]);
  });

  it("a quota raised by hand names the quota resource and exactly the fields that moved", () => {
    const spec = specFor();
    const seen = asDeclared(spec);
    seen.quotas.compute.cores = 40;
    seen.quotas.compute.ram = 1;
    seen.quotas.blockStorage.gigabytes = 9999;
    expect(tenantDifferences(spec, IDS, seen)).toEqual([
      { resource: "compute-quota", type: "openstack:compute/quotaSetV2:QuotaSetV2", change: "update", properties: ["cores", "ram"] },
      { resource: "blockstorage-quota", type: "openstack:blockstorage/quoteSetV3:QuoteSetV3", change: "update", properties: ["gigabytes"] },
    ]);
  });

  it("a 0 is a value: a 0-IP plan left with Neutron's default of 50 (its create drops zeros) differs; corrected by afterUp to 0 it is in sync", () => {
    const spec = specFor({ plan: { ...PREPAID, floatingIps: 0 } });
    expect(spec.quotas.network.floatingip).toBe(0);
    const uncorrected = asDeclared(spec);
    uncorrected.quotas.network.floatingip = 50;
    expect(tenantDifferences(spec, IDS, uncorrected)).toEqual([{ resource: "network-quota", type: "openstack:networking/quotaV2:QuotaV2", change: "update", properties: ["floatingip"] }]);
    expect(tenantDifferences(spec, IDS, asDeclared(spec))).toEqual([]);
  });

  it("-1 (unlimited) equals only -1: a cap where unlimited was declared differs, and so does unlimited where a cap was", () => {
    const spec = specFor({ plan: { model: "payg" } }, { ...SETTINGS, quotaDefaults: { ...DEFAULT_QUOTA_DEFAULTS, network: { ...DEFAULT_QUOTA_DEFAULTS.network, port: -1 } } });
    expect(spec.quotas.network.port).toBe(-1);
    expect(tenantDifferences(spec, IDS, asDeclared(spec))).toEqual([]);
    const capped = asDeclared(spec);
    capped.quotas.network.port = 50;
    capped.quotas.compute.cores = -1;
    expect(tenantDifferences(spec, IDS, capped).map((d) => [d.resource, d.properties])).toEqual([["compute-quota", ["cores"]], ["network-quota", ["port"]]]);
  });

  it("a role assignment removed by hand, or a user deleted, is a `delete` of that resource; a user whose default project moved is an update", () => {
    const spec = specFor();
    const noRole = { ...asDeclared(spec), memberRole: false };
    expect(tenantDifferences(spec, IDS, noRole)).toEqual([{ resource: "member", type: "openstack:identity/roleAssignment:RoleAssignment", change: "delete", properties: [] }]);
    expect(tenantDifferences(spec, IDS, { ...asDeclared(spec), user: null, memberRole: false }).map((d) => `${d.resource} ${d.change}`)).toEqual(["user delete", "member delete"]);
    const moved = asDeclared(spec);
    if (moved.user) moved.user.defaultProjectId = "p-other";
    expect(tenantDifferences(spec, IDS, moved)).toMatchObject([{ resource: "user", change: "update", properties: ["defaultProjectId"] }]);
  });

  it("a project that is gone is one `delete` of the project (the preview finds the rest)", () => {
    expect(observationOf(specFor(), IDS, null)).toEqual({
      state: "differs",
      differences: [{ resource: "project", type: "openstack:identity/project:Project", change: "delete", properties: [] }],
    });
  });

  it("any one quota field changed to any other value is exactly one difference naming that field (property)", () => {
    const spec = specFor();
    const fields = (["compute", "blockStorage", "network"] as const).flatMap((s) => Object.keys(spec.quotas[s]).map((f) => [s, f] as const));
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.integer({ min: -1, max: 1_000_000 }), ([service, field], value) => {
        const declared = (spec.quotas[service] as Record<string, number>)[field];
        fc.pre(value !== declared);
        const seen = asDeclared(spec);
        (seen.quotas[service] as Record<string, number>)[field] = value;
        const d = tenantDifferences(spec, IDS, seen);
        expect(d).toHaveLength(1);
        expect(d[0]?.properties).toEqual([field]);
        expect(d[0]?.resource).toBe({ compute: "compute-quota", blockStorage: "blockstorage-quota", network: "network-quota" }[service as keyof QuotaSets]);
      }),
    );
  });
});
