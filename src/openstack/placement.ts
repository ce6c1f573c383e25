import { z } from "zod";
import { CAPACITY_RESOURCES } from "../domain/target.js";
import { Inventory, physicalOf, ZERO, type Amounts } from "../domain/capacity.js";
import { AppError } from "../domain/errors.js";
import type { CloudClient } from "./cloud-client.js";

// placement-api-ref: GET /resource_providers, /resource_providers/{uuid}/inventories, /resource_providers/{uuid}/usages.
const Providers = z.object({ resource_providers: z.array(z.object({ uuid: z.string(), name: z.string() })) });
const Inventories = z.object({ inventories: z.record(z.string(), Inventory) });
const Usages = z.object({ usages: z.record(z.string(), z.number()) });

/** What Placement says of one target: what can be allocated (allocation ratios and reserved applied) and what is. */
export interface PlacementCapacity {
  physical: Amounts;
  used: Amounts;
  providers: number;
}

const ATTEMPTS = 3;

/**
 * A target's capacity from its Placement: every resource provider's inventories and usages (two reads
 * per provider, one for the list). A hypervisor's nova-compute reports its inventory there; the service
 * only reads. Transient failures (unreachable, 5xx) are retried with back-off before they are reported.
 */
export async function placementCapacity(cloud: CloudClient, o: { backoffMs?: number } = {}): Promise<PlacementCapacity> {
  const read = <T>(path: string, schema: z.ZodType<T>) => withRetries(() => cloud.request("placement", "GET", path, schema), o.backoffMs ?? 500);
  const { resource_providers: providers } = await read("/resource_providers", Providers);
  const each = await Promise.all(providers.map(async (p) => {
    const [inv, use] = await Promise.all([
      read(`/resource_providers/${encodeURIComponent(p.uuid)}/inventories`, Inventories),
      read(`/resource_providers/${encodeURIComponent(p.uuid)}/usages`, Usages),
    ]);
    return { inventories: inv.inventories, usages: use.usages };
  }));
  const used = { ...ZERO };
  for (const p of each) for (const r of CAPACITY_RESOURCES) used[r] += p.usages[r] ?? 0;
  return { physical: physicalOf(each.map((p) => p.inventories)), used, providers: providers.length };
}

async function withRetries<T>(fn: () => Promise<T>, backoffMs: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const transient = e instanceof AppError && e.kind === "unavailable";
      if (!transient || attempt >= ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
    }
  }
}
