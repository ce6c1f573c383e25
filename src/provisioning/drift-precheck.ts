import type { SubscriptionRecord } from "../domain/lifecycle.js";
import type { TenantObservation } from "../domain/tenant-observation.js";
import { TenantSpec, tenantSpecOf, type TenantSettings } from "../domain/tenant-spec.js";
import type { Logger } from "../log.js";
import type { CloudClient } from "../openstack/cloud-client.js";
import { observeTenant, type ObservationOptions } from "../openstack/tenant-observation.js";

export interface PrecheckOptions extends ObservationOptions {
  /** The default target's admin. */
  client: CloudClient;
  /** The other targets' admins, by target name: a stack in region B is observed in region B. */
  clients?: ReadonlyMap<string, CloudClient>;
  settings: TenantSettings;
  log: Logger;
  /** Hears every observation (tests, counters). */
  onObservation?: (subscriptionId: string, o: TenantObservation) => void;
}

/**
 * The drift detector's cheap look (`DriftDetectorOptions.observe`): what OpenStack reports of the tenant
 * against what its stack declares, six admin requests instead of a refresh preview. Only "in_sync" spares
 * the engine; a difference, an unreadable cloud or a stack without recorded ids goes to the preview,
 * which has the last word (and names the differences recorded).
 *
 * It compares with the spec the stack was last successfully updated with (`declared`, recorded with each
 * update): drift is the cloud against the stack, so a changed quota defaults file waiting for its
 * rollout is not drift and costs no preview. A stack updated before declarations were recorded is
 * compared with the spec rebuilt from the desired state and today's settings.
 */
export function tenantPrecheck(o: PrecheckOptions): (sub: SubscriptionRecord, declared: unknown) => Promise<"in_sync" | "differs" | "unknown"> {
  return async (sub, declared) => {
    const recorded = TenantSpec.safeParse(declared);
    const spec = recorded.success ? recorded.data : tenantSpecOf(sub.desired, o.settings);
    const observation: TenantObservation = sub.outputs
      ? await observeTenant((spec.target && o.clients?.get(spec.target)) || o.client, { projectId: sub.outputs.projectId, userId: sub.outputs.userId }, spec, o)
      : { state: "unknown", reason: "the stack recorded no project and user ids" };
    o.onObservation?.(sub.id, observation);
    if (observation.state === "differs") o.log.info("drift pre-check", { subscription: sub.id, result: "differs", differences: observation.differences.map((d) => `${d.resource} ${d.change} ${d.properties.join(",")}`.trim()) });
    if (observation.state === "unknown") o.log.warn("drift pre-check", { subscription: sub.id, result: "unknown", error: observation.reason });
    return observation.state;
  };
}
