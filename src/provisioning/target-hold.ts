import { heldBy } from "../domain/capacity.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import { defaultTargetOf, TenantSpec, tenantSpecOf, type TenantSettings } from "../domain/tenant-spec.js";
import type { CapacityService } from "./capacity.js";

export interface TargetHoldOptions {
  settings: TenantSettings;
  /** Why a target cannot be worked on now (openstack/target-health.ts), or null. */
  targetProblem?: (target: string) => Promise<string | null>;
  capacity?: CapacityService;
  /** The spec the stack was last applied with (what the tenant holds today), or null. */
  declaredSpec: (id: string) => Promise<unknown>;
}

/**
 * OperationDeps.hold: a tenant waits (with the reason) while its target does not answer, and an update
 * that grows a tenant waits while its target has no room left to sell for it; what it holds today is never
 * refused (a suspension, a downgrade, a password rotation go on). Others' waiting purchases do not count.
 */
export function targetHold(o: TargetHoldOptions) {
  return async (sub: SubscriptionRecord, kind: "up" | "destroy"): Promise<{ what: string; reasons: string[] } | null> => {
    const spec = tenantSpecOf(sub.desired, o.settings);
    const target = spec.target ?? defaultTargetOf(o.settings);
    const down = await o.targetProblem?.(target);
    if (down) return { what: `target ${target}`, reasons: [down] };
    if (kind !== "up" || !o.capacity || sub.desired.status === "cancelled") return null;
    const declared = TenantSpec.safeParse(await o.declaredSpec(sub.id));
    const current = declared.success && (declared.data.target ?? defaultTargetOf(o.settings)) === target ? heldBy(declared.data.quotas) : null;
    const short = await o.capacity.shortfalls(sub.id, sub.desired.plan, { withoutWaiting: true, current });
    return short.length > 0 ? { what: `room in target ${target}`, reasons: short } : null;
  };
}
