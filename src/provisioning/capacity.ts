import { capacityShortfalls, demandOf, sellableOf, ZERO, type Amounts, type TargetCapacity } from "../domain/capacity.js";
import type { Plan } from "../domain/plan.js";
import type { SellingPolicy } from "../domain/target.js";
import { targetOf } from "../domain/target.js";
import type { Logger } from "../log.js";
import type { SoldLedger } from "./ports.js";

/** What Placement says of a target (openstack/placement.ts). */
export interface PlacementReading {
  physical: Amounts;
  used: Amounts;
  providers: number;
}

export interface CapacityTarget {
  name: string;
  selling: SellingPolicy;
  /** Reads the target's Placement; null: the service cannot (no admin credentials there). */
  placement: (() => Promise<PlacementReading>) | null;
}

export interface CapacityOptions {
  targets: readonly CapacityTarget[];
  defaultTarget: string;
  sold: SoldLedger;
  log: Logger;
  /** How long a Placement reading is used before it is read again (an order must not cost a Placement walk). */
  cacheMs?: number;
  now?: () => number;
}

/**
 * Sold / used / physical per target, and the selling decision: whether a plan fits what a target has left
 * to sell. Placement is read at most once per `cacheMs` per target; what is sold is one query.
 * A target whose Placement has no resource provider (nothing reports an inventory) or cannot be read is
 * not enforced: nothing is known to refuse on, and the reconcile-time check holds what does not fit once
 * it is known again (operators see why in the report).
 */
export class CapacityService {
  private readonly cache = new Map<string, { at: number; reading: Promise<PlacementReading> }>();

  constructor(private readonly o: CapacityOptions) {}

  private target(name: string): CapacityTarget | undefined {
    return this.o.targets.find((t) => t.name === name);
  }

  private async reading(t: CapacityTarget): Promise<PlacementReading | string> {
    if (!t.placement) return "no admin credentials for this target: Placement cannot be read";
    const now = (this.o.now ?? Date.now)();
    let hit = this.cache.get(t.name);
    if (!hit || now - hit.at > (this.o.cacheMs ?? 30_000)) {
      hit = { at: now, reading: t.placement() };
      this.cache.set(t.name, hit);
      // A failed read is kept as long as a good one: a Placement that does not answer costs each order
      // nothing more (capacity is then not enforced at the order; the reconcile-time check holds later).
      hit.reading.catch(() => undefined);
    }
    try {
      const r = await hit.reading;
      return r.providers === 0 ? "Placement has no resource provider (no hypervisor reports an inventory): capacity is not enforced" : r;
    } catch (e) {
      return `Placement could not be read: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  /** Forgets what was read (an operator asked for fresh figures). */
  forget(): void {
    this.cache.clear();
  }

  /** Every target's figures, the default first. */
  async report(): Promise<TargetCapacity[]> {
    const sold = await this.o.sold.soldByTarget(this.o.defaultTarget);
    return Promise.all(this.o.targets.map(async (t): Promise<TargetCapacity> => {
      const r = await this.reading(t);
      const s = sold.get(t.name) ?? { ...ZERO };
      if (typeof r === "string") return { target: t.name, physical: null, sellable: null, sold: s, used: null, problem: r };
      return { target: t.name, physical: r.physical, sellable: sellableOf(r.physical, t.selling), sold: s, used: r.used, problem: null };
    }));
  }

  /**
   * Why `plan` cannot be sold for `subscriptionId` (its own plan today left out of what is sold), in the
   * customer's words; empty when it fits or when the target's capacity is not known. `current`: what the
   * subscription has in that target today (a plan never moves: domain/subscription.ts), never refused.
   * `withoutWaiting`: at reconcile time, what other purchases still wait does not count against this one.
   */
  async shortfalls(subscriptionId: string, plan: Plan, o: { withoutWaiting?: boolean; current?: Amounts | null } = {}): Promise<string[]> {
    const demand = demandOf(plan);
    if (demand.VCPU === 0 && demand.MEMORY_MB === 0 && demand.DISK_GB === 0) return [];
    const name = targetOf(plan, this.o.defaultTarget);
    const t = this.target(name);
    if (!t) return [];
    const r = await this.reading(t);
    if (typeof r === "string") {
      this.o.log.warn("capacity not checked", { target: name, subscription: subscriptionId, reason: r });
      return [];
    }
    const sold = (await this.o.sold.soldByTarget(this.o.defaultTarget, { except: subscriptionId, target: name, withoutWaiting: o.withoutWaiting ?? false })).get(name) ?? { ...ZERO };
    return capacityShortfalls(name, demand, sold, sellableOf(r.physical, t.selling), o.current ?? ZERO);
  }
}
