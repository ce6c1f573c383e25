import * as pulumi from "@pulumi/pulumi";
import type { TenantSpec } from "../domain/tenant-spec.js";
import type { RoleIds } from "./role-ids.js";
import { declareTenant } from "./tenant.js";

export interface DeclaredResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** The provider reference of a resource declared through an explicit provider (a target in another cloud). */
  provider?: string;
}

const SECRET = "[secret]";

/**
 * Runs the tenant program offline under `pulumi.runtime.setMocks` (Pulumi's official unit-test
 * mechanism) and returns what it declares, with the password shown as "[secret]". Used by
 * `tenantctl render`, by the program's unit tests and by the Keystone contract tests.
 */
export async function renderTenant(spec: TenantSpec, password = "render-placeholder-password", roles?: RoleIds): Promise<DeclaredResource[]> {
  const declared: DeclaredResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        declared.push({ type: args.type, name: args.name, inputs: { ...args.inputs }, ...(args.provider ? { provider: args.provider } : {}) });
        return { id: `${args.name}-id`, state: { ...args.inputs } };
      },
      call(args) {
        // identity.getRole: the role is looked up by name in the real cloud.
        if (args.token === "openstack:identity/getRole:getRole") {
          return { id: `role-${String(args.inputs.name)}-id`, name: args.inputs.name, domainId: "" };
        }
        return { ...args.inputs };
      },
    },
    "openstack-tenants",
    `sub-${spec.subscriptionId}`,
    true,
  );
  const out = declareTenant(spec, password, roles);
  const urns = await new Promise<string[]>((resolve) => {
    pulumi.all(out.resources.map((r) => r.urn)).apply(resolve);
  });
  // Registrations complete in any order; report them in declaration order (a URN ends with `::<name>`).
  const order = urns.map((urn) => urn.slice(urn.lastIndexOf("::") + 2));
  return declared
    .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
    .map((r) => ({ ...r, inputs: redact(r.inputs, password) }));
}

// Under mocks a secret input arrives in Pulumi's wire form: { [specialSigKey]: specialSecretSig, value }.
const SIG_KEY = pulumi.runtime.specialSigKey;
const SECRET_SIG = pulumi.runtime.specialSecretSig;

function redact(value: Record<string, unknown>, password: string): Record<string, unknown> {
  const replacer = (_k: string, v: unknown): unknown => {
    if (v === password) return SECRET;
    if (typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG) return SECRET;
    return v;
  };
  return JSON.parse(JSON.stringify(value, replacer)) as Record<string, unknown>;
}
