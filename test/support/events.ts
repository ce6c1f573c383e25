import type { EventType, MarketplaceEvent } from "../../src/domain/event.js";
import type { Plan, PrepaidPlan } from "../../src/domain/plan.js";

let seq = 0;
export const PREPAID: PrepaidPlan = { model: "prepaid", cores: 8, ramGb: 16, diskGb: 200, floatingIps: 2 };

export function event(
  subscriptionId: string,
  type: EventType,
  opts: { id?: string; at?: string; plan?: Plan } = {},
): MarketplaceEvent {
  seq += 1;
  return {
    id: opts.id ?? `evt-${String(seq).padStart(6, "0")}`,
    type,
    occurredAt: opts.at ?? new Date(Date.UTC(2026, 10, 24, 10, 0, seq)).toISOString(),
    subscription: {
      id: subscriptionId,
      customer: { id: "c-7", name: "Example Ltd", email: "ops@example.com" },
      plan: opts.plan ?? PREPAID,
    },
  };
}
