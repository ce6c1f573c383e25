import { z } from "zod";
import type { Plan } from "./plan.js";
import { CAPACITY_RESOURCES, type CapacityResource, type SellingPolicy } from "./target.js";

/**
 * One resource class of one resource provider, as Placement reports it (placement-api-ref "List
 * resource provider inventories": total, reserved, min_unit, max_unit, step_size, allocation_ratio).
 */
export const Inventory = z.object({
  total: z.number().int().nonnegative(),
  reserved: z.number().int().nonnegative().default(0),
  allocation_ratio: z.number().positive().default(1),
  min_unit: z.number().int().optional(),
  max_unit: z.number().int().optional(),
  step_size: z.number().int().optional(),
});
export type Inventory = z.infer<typeof Inventory>;

/** Amounts per resource class. */
export type Amounts = Record<CapacityResource, number>;
export const ZERO: Amounts = { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 };

/**
 * What Placement lets be allocated of one inventory: (total - reserved) x allocation_ratio, the formula of
 * placement/objects/allocation.py (_check_capacity_exceeded), rounded down.
 */
export function allocatable(inv: Inventory): number {
  return Math.max(0, Math.floor((inv.total - inv.reserved) * inv.allocation_ratio));
}

/** A target's physical capacity: every provider's allocatable amount, added up per resource class. */
export function physicalOf(providers: ReadonlyArray<Partial<Record<string, Inventory>>>): Amounts {
  const out = { ...ZERO };
  for (const p of providers) for (const r of CAPACITY_RESOURCES) {
    const inv = p[r];
    if (inv) out[r] += allocatable(inv);
  }
  return out;
}

/** What may be sold: the physical capacity times the operator's factor (default 1: never past Placement). */
export function sellableOf(physical: Amounts, policy: SellingPolicy): Amounts {
  const out = { ...ZERO };
  for (const r of CAPACITY_RESOURCES) out[r] = Math.floor(physical[r] * (policy[r] ?? 1));
  return out;
}

/**
 * What a plan takes of a target: a prepaid plan's quotas (RAM in MB as Nova and Placement count it, disk
 * as the GB bought); a PAYG plan sells nothing ahead (its use shows in Placement's usages, bounded by the
 * PAYG ceilings).
 */
export function demandOf(plan: Plan): Amounts {
  if (plan.model !== "prepaid") return { ...ZERO };
  return { VCPU: plan.cores, MEMORY_MB: plan.ramGb * 1024, DISK_GB: plan.diskGb };
}

export const addAmounts = (a: Amounts, b: Amounts): Amounts => ({ VCPU: a.VCPU + b.VCPU, MEMORY_MB: a.MEMORY_MB + b.MEMORY_MB, DISK_GB: a.DISK_GB + b.DISK_GB });

const WORDS: Record<CapacityResource, (n: number) => string> = {
  VCPU: (n) => `${n} vCPU${n === 1 ? "" : "s"}`,
  MEMORY_MB: (n) => `${Math.floor(n / 1024)} GB of RAM`,
  DISK_GB: (n) => `${n} GB of disk`,
};

/**
 * Why `demand` does not fit a target that has sold `sold` (others' plans) of `sellable`; empty when it
 * fits. A resource the plan does not grow past `current` (what the subscription has today) always fits:
 * a downgrade is never refused, even in a target sold past its capacity since.
 * The sentences are the customer's: what is left, what was asked.
 */
export function capacityShortfalls(target: string, demand: Amounts, sold: Amounts, sellable: Amounts, current: Amounts = ZERO): string[] {
  const out: string[] = [];
  for (const r of CAPACITY_RESOURCES) {
    if (demand[r] === 0 || demand[r] <= current[r]) continue;
    const left = Math.max(0, sellable[r] - sold[r]);
    if (demand[r] > left) out.push(`${target} has ${WORDS[r](left)} left to sell, the plan asks for ${WORDS[r](demand[r])}`);
  }
  return out;
}

/** One target's figures per resource class, as operators see them. */
export interface TargetCapacity {
  target: string;
  /** Null when Placement could not be read: why, in `problem`. */
  physical: Amounts | null;
  sellable: Amounts | null;
  sold: Amounts;
  used: Amounts | null;
  problem: string | null;
}

/** What a declared tenant holds (its quota sets as the stack declares them), in Placement's units. */
export function heldBy(quotas: { compute: { cores: number; ram: number }; blockStorage: { gigabytes: number } }): Amounts {
  return { VCPU: Math.max(0, quotas.compute.cores), MEMORY_MB: Math.max(0, quotas.compute.ram), DISK_GB: Math.max(0, quotas.blockStorage.gigabytes) };
}
