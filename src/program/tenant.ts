import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { TenantSpec } from "../domain/tenant-spec.js";
import type { RoleIds } from "./role-ids.js";

export interface TenantOutputs {
  projectId: pulumi.Output<string>;
  userId: pulumi.Output<string>;
  userName: pulumi.Output<string>;
  authUrl: string;
  region: string;
  password: pulumi.Output<string>;
  /** Every resource declared, so that a caller can wait for all registrations. */
  resources: pulumi.CustomResource[];
}

/**
 * One tenant: a project, its user, the user's member role on it, and the project's three quota sets.
 * No I/O of its own: everything comes from the spec and the password handed in (and the member role's ID
 * from `roles`, when it remembers it).
 */
export function declareTenant(spec: TenantSpec, password: pulumi.Input<string>, roles?: RoleIds): TenantOutputs {
  const secretPassword = pulumi.secret(password);
  // A target in another cloud (a clouds.yaml cloud of its own): every resource goes through its provider.
  // The default target keeps the default provider (the OS_* / OS_CLOUD environment), so its stacks declare
  // exactly what they did before targets existed (a provider change would replace them).
  const opts: pulumi.CustomResourceOptions = spec.cloud
    ? { provider: new openstack.Provider("target", { cloud: spec.cloud, region: spec.region }) }
    : {};
  const project = new openstack.identity.Project("project", {
    name: spec.projectName,
    description: spec.description,
    domainId: spec.domainId,
    enabled: spec.enabled,
    tags: spec.tags,
  }, opts);

  const user = new openstack.identity.User("user", {
    name: spec.userName,
    description: spec.description,
    domainId: spec.domainId,
    defaultProjectId: project.id,
    password: secretPassword,
    enabled: spec.enabled,
    // The service owns the password; Keystone's first-use and expiry rules would lock the customer out.
    ignoreChangePasswordUponFirstUse: true,
    ignorePasswordExpiry: true,
  }, opts);

  // The same role ID whether remembered or looked up: the assignment's inputs, and so the stack, do not change.
  const knownRole = roles?.known(spec);
  const roleId = knownRole !== undefined
    ? pulumi.output(knownRole)
    : openstack.identity.getRoleOutput({ name: spec.memberRole }, opts.provider ? { provider: opts.provider } : undefined).id.apply((id) => {
        roles?.learn(spec, id);
        return id;
      });
  const member = new openstack.identity.RoleAssignment("member", {
    projectId: project.id,
    userId: user.id,
    roleId,
  }, opts);

  // Quota sets are all-in: unset fields become 0, so every field is passed (see domain/quota.ts).
  const computeQuota = new openstack.compute.QuotaSetV2("compute-quota", {
    projectId: project.id,
    region: spec.region,
    ...spec.quotas.compute,
  }, opts);
  const blockStorageQuota = new openstack.blockstorage.QuoteSetV3("blockstorage-quota", {
    projectId: project.id,
    region: spec.region,
    ...spec.quotas.blockStorage,
    volumeTypeQuota: {},
  }, opts);
  const networkQuota = new openstack.networking.QuotaV2("network-quota", {
    projectId: project.id,
    region: spec.region,
    ...spec.quotas.network,
  }, opts);

  return {
    projectId: project.id,
    userId: user.id,
    userName: user.name,
    authUrl: spec.authUrl,
    region: spec.region,
    password: secretPassword,
    resources: [project, user, member, computeQuota, blockStorageQuota, networkQuota],
  };
}
