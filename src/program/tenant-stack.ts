import * as pulumi from "@pulumi/pulumi";
import { TenantSpec } from "../domain/tenant-spec.js";
import { RoleIds } from "./role-ids.js";
import { declareTenant } from "./tenant.js";

/**
 * The member role's ID, remembered for a minute across the updates this process runs: the engine host runs
 * one update after another with this module loaded (a shell's `pulumi preview` runs one).
 */
const roleIds = new RoleIds(60_000);

/**
 * The stack of one subscription, from its config (`tenant:spec`, the secret `tenant:password`): what the
 * program declares and what it exports. One definition for both ways the engine runs it: Pulumi.yaml's
 * `main` (main.ts, through pulumi-language-nodejs) and the Automation API's inline mode (inline.ts).
 */
export function tenantStack() {
  const config = new pulumi.Config("tenant");
  const spec = TenantSpec.parse(config.requireObject<unknown>("spec"));
  const tenant = declareTenant(spec, config.requireSecret("password"), roleIds);
  return {
    projectId: tenant.projectId,
    userId: tenant.userId,
    userName: tenant.userName,
    authUrl: tenant.authUrl,
    region: tenant.region,
    password: tenant.password,
    domainId: spec.domainId,
  };
}
