import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { foldEvent } from "../../../src/domain/subscription.js";
import { tenantSpecOf } from "../../../src/domain/tenant-spec.js";
import { TENANT_RESOURCES } from "../../../src/domain/tenant-spec.js";
import { renderTenant, type DeclaredResource } from "../../../src/program/render.js";
import { RoleIds } from "../../../src/program/role-ids.js";
import { event } from "../../support/events.js";
import { SETTINGS } from "../../support/settings.js";

const PASSWORD = "s3cret-password-for-test";

async function declared(type: "created" | "suspended") {
  let state = foldEvent(null, event("42", "subscription.created")).state;
  if (type === "suspended") state = foldEvent(state, event("42", "subscription.suspended")).state;
  if (!state) throw new Error("no state");
  return renderTenant(tenantSpecOf(state, SETTINGS), PASSWORD);
}

const byType = (rs: DeclaredResource[], type: string) => {
  const r = rs.find((x) => x.type === type);
  if (!r) throw new Error(`no ${type} declared`);
  return r;
};

/** The input properties of an SDK resource, read from @pulumi/openstack's own type declarations. */
function sdkArgs(file: string, iface: string): string[] {
  const root = dirname(createRequire(import.meta.url).resolve("@pulumi/openstack/package.json"));
  const text = readFileSync(join(root, file), "utf8");
  const body = text.slice(text.indexOf(`export interface ${iface} {`));
  const block = body.slice(0, body.indexOf("\n}"));
  return [...block.matchAll(/^ {4}(\w+)\??:/gm)].map((m) => m[1] as string);
}

describe("the tenant program (under pulumi.runtime.setMocks)", () => {
  it("declares one project, one user, one role assignment and three quota sets", async () => {
    const rs = await declared("created");
    expect(rs.map((r) => r.type).sort()).toEqual([
      "openstack:blockstorage/quoteSetV3:QuoteSetV3",
      "openstack:compute/quotaSetV2:QuotaSetV2",
      "openstack:identity/project:Project",
      "openstack:identity/roleAssignment:RoleAssignment",
      "openstack:identity/user:User",
      "openstack:networking/quotaV2:QuotaV2",
    ]);
  });

  it("declares exactly the resources progress displays count (TENANT_RESOURCES), by name and type", async () => {
    const rs = await declared("created");
    const key = (r: { name: string; type: string }) => `${r.name} ${r.type}`;
    expect(rs.map(key).sort()).toEqual(TENANT_RESOURCES.map(key).sort());
  });

  it("the project and user are named after the stack, enabled, in the configured domain", async () => {
    const rs = await declared("created");
    const project = byType(rs, "openstack:identity/project:Project").inputs;
    const user = byType(rs, "openstack:identity/user:User").inputs;
    expect(project).toMatchObject({ name: "sub-42", domainId: "default", enabled: true });
    expect(project.tags).toEqual(["subscription:42", "customer:c-7", "plan:prepaid"]);
    expect(user).toMatchObject({ name: "sub-42", domainId: "default", enabled: true, defaultProjectId: "project-id", ignorePasswordExpiry: true });
  });

  it("the user's password is declared as a secret, never in clear", async () => {
    const rs = await declared("created");
    expect(byType(rs, "openstack:identity/user:User").inputs.password).toBe("[secret]");
    expect(JSON.stringify(rs)).not.toContain(PASSWORD);
  });

  it("the member role, looked up by name, is granted to the user on the project", async () => {
    const rs = await declared("created");
    expect(byType(rs, "openstack:identity/roleAssignment:RoleAssignment").inputs).toEqual({
      projectId: "project-id", userId: "user-id", roleId: "role-member-id",
    });
  });

  it("the member role's ID, once looked up, is remembered per cloud for its time: later declarations grant the same ID without a lookup", async () => {
    let now = 0;
    const roles = new RoleIds(60_000, () => now);
    const spec = tenantSpecOf(foldEvent(null, event("42", "subscription.created")).state as never, SETTINGS);
    const granted = async (s: typeof spec) => byType(await renderTenant(s, PASSWORD, roles), "openstack:identity/roleAssignment:RoleAssignment").inputs.roleId;
    // The mocks answer a lookup with `role-<name>-id`: a remembered ID that differs shows no lookup ran.
    expect(await granted(spec)).toBe("role-member-id");
    expect(roles.known(spec)).toBe("role-member-id");
    roles.learn(spec, "remembered-role-id");
    now = 59_999;
    expect(await granted(spec)).toBe("remembered-role-id");
    // Another cloud's Keystone has its own roles: looked up there.
    expect(await granted({ ...spec, cloud: "far" })).toBe("role-member-id");
    now = 60_000; // its time is up: looked up again (a role an operator recreated is seen)
    expect(await granted(spec)).toBe("role-member-id");
  });

  it("a suspended subscription disables project and user and deletes nothing", async () => {
    const rs = await declared("suspended");
    expect(rs).toHaveLength(6);
    expect(byType(rs, "openstack:identity/project:Project").inputs.enabled).toBe(false);
    expect(byType(rs, "openstack:identity/user:User").inputs.enabled).toBe(false);
  });

  it.each([
    ["openstack:compute/quotaSetV2:QuotaSetV2", "compute/quotaSetV2.d.ts", "QuotaSetV2Args"],
    ["openstack:blockstorage/quoteSetV3:QuoteSetV3", "blockstorage/quoteSetV3.d.ts", "QuoteSetV3Args"],
    ["openstack:networking/quotaV2:QuotaV2", "networking/quotaV2.d.ts", "QuotaV2Args"],
  ])("%s is given every input the SDK knows (quota sets are all-in: unset fields become 0)", async (type, file, iface) => {
    const rs = await declared("created");
    const inputs = byType(rs, type).inputs;
    const fields = sdkArgs(file, iface);
    expect(fields.length).toBeGreaterThan(5);
    for (const f of fields) expect(inputs, `field ${f}`).toHaveProperty(f);
    for (const f of fields) if (f !== "projectId" && f !== "region" && f !== "volumeTypeQuota") expect(typeof inputs[f]).toBe("number");
  });

  it("quota values follow the plan bought", async () => {
    const rs = await declared("created");
    expect(byType(rs, "openstack:compute/quotaSetV2:QuotaSetV2").inputs).toMatchObject({ cores: 8, ram: 16384, instances: 8, projectId: "project-id", region: "RegionOne" });
    expect(byType(rs, "openstack:blockstorage/quoteSetV3:QuoteSetV3").inputs).toMatchObject({ gigabytes: 200 });
    expect(byType(rs, "openstack:networking/quotaV2:QuotaV2").inputs).toMatchObject({ floatingip: 2 });
  });
});

describe("the tenant program in a target", () => {
  const TARGETS = {
    ...SETTINGS,
    defaultTarget: "default",
    targets: {
      two: { name: "two", label: "two", region: "RegionTwo", authUrl: "http://127.0.0.1:5000/v3", memberRole: "member" },
      far: { name: "far", label: "far", region: "RegionA", authUrl: "https://far.example/v3", memberRole: "member", cloud: "far" },
    },
  };
  const specIn = (target: string) => {
    const state = foldEvent(null, event("42", "subscription.created", { plan: { model: "prepaid", cores: 4, ramGb: 8, diskGb: 100, floatingIps: 1, target } })).state;
    if (!state) throw new Error("no state");
    return tenantSpecOf(state, TARGETS);
  };

  it("a second region of the same cloud sets its quota sets in that region, through the default provider", async () => {
    const rs = await renderTenant(specIn("two"), PASSWORD);
    for (const type of ["openstack:compute/quotaSetV2:QuotaSetV2", "openstack:blockstorage/quoteSetV3:QuoteSetV3", "openstack:networking/quotaV2:QuotaV2"]) {
      expect(byType(rs, type).inputs.region).toBe("RegionTwo");
    }
    expect(rs.some((r) => r.type === "pulumi:providers:openstack")).toBe(false);
  });

  it("a target in another cloud declares every resource through a provider of that clouds.yaml cloud and region", async () => {
    const rs = await renderTenant(specIn("far"), PASSWORD);
    const provider = byType(rs, "pulumi:providers:openstack");
    expect(provider.inputs).toMatchObject({ cloud: "far", region: "RegionA" });
    for (const r of rs.filter((x) => x.type !== "pulumi:providers:openstack")) expect(r.provider).toMatch(/pulumi:providers:openstack::target::/);
  });
});
