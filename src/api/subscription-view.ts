import type { z } from "@hono/zod-openapi";
import { stackNameOf } from "../domain/subscription-id.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import type { SubscriptionView } from "./schemas.js";

/** The operator's view of a subscription: no secrets, no token hash. */
export function view(sub: SubscriptionRecord): z.infer<typeof SubscriptionView> {
  return {
    id: sub.id,
    stack: stackNameOf(sub.id),
    status: sub.desired.status,
    phase: sub.phase,
    plan: sub.desired.plan,
    customer: sub.desired.customer,
    lastEvent: sub.desired.lastEvent,
    generation: sub.generation,
    appliedGeneration: sub.appliedGeneration,
    lastError: sub.lastError,
    outputs: sub.outputs,
    createdAt: sub.createdAt,
    updatedAt: sub.updatedAt,
  };
}
