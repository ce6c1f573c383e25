import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { demandOf } from "../domain/capacity.js";
import { Plan, planViolations } from "../domain/plan.js";
import { SubscriptionId } from "../domain/subscription-id.js";
import { CapacityResource, TargetName, targetOf } from "../domain/target.js";
import { defaultTargetOf, placementOf, targetsOf, type TenantSettings } from "../domain/tenant-spec.js";
import type { CapacityService } from "../provisioning/capacity.js";
import type { SubscriptionRecord } from "../domain/lifecycle.js";
import { validationHook } from "./problem.js";
import { FORBIDDEN, json, OPERATOR, problem, UNAUTHORIZED } from "./route-docs.js";

const Amounts = z.record(CapacityResource, z.number().int()).openapi({ example: { VCPU: 64, MEMORY_MB: 131072, DISK_GB: 2000 } });

const TargetView = z.object({
  name: TargetName, label: z.string(), region: z.string(), default: z.boolean(),
  problem: z.string().nullable().openapi({ description: "why the target cannot be worked on now (its tenants wait), or null" }),
}).openapi("Target");

const CapacityView = z.object({
  target: TargetName,
  physical: Amounts.nullable().openapi({ description: "Placement: (total - reserved) x allocation ratio, every resource provider added up; null when unknown" }),
  sellable: Amounts.nullable().openapi({ description: "physical x the target's selling policy" }),
  sold: Amounts.openapi({ description: "prepaid plans of the subscriptions not cancelled" }),
  used: Amounts.nullable().openapi({ description: "Placement's usages (what servers hold)" }),
  problem: z.string().nullable().openapi({ description: "why capacity is unknown (and not enforced) there, or null" }),
}).openapi("TargetCapacity");

export const TargetList = z.object({ targets: z.array(TargetView) }).openapi("TargetList");
export const CapacityList = z.object({ targets: z.array(CapacityView) }).openapi("CapacityList");

export const OrderCheck = z.object({
  subscription: SubscriptionId.optional().openapi({ description: "the subscription an upgrade is for (its plan today is not counted twice)" }),
  plan: Plan,
}).openapi("OrderCheck");

const OrderCheckAnswer = z.object({
  accepted: z.boolean(),
  reasons: z.array(z.string()).openapi({ description: "why not, in the customer's words; empty when accepted" }),
  target: TargetName,
}).openapi("OrderCheckAnswer");

export interface CapacityRouteDeps {
  settings: TenantSettings;
  capacity?: CapacityService | undefined;
  /** Why each target cannot be worked on now (openstack/target-health.ts), by name. */
  targetProblems?: (() => Promise<Record<string, string | null>>) | undefined;
  subscription: (id: string) => Promise<SubscriptionRecord | null>;
  viewer: MiddlewareHandler[];
  /** The generic webhook's signature check (WEBHOOK_SECRET), for the marketplace's order pre-check. */
  signed: MiddlewareHandler[];
}

/**
 * Targets and their capacity (mounted at /v1): what operators see per target, and the generic
 * marketplace's order pre-check, which refuses what a target cannot host before money is taken.
 */
export function capacityRoutes(deps: CapacityRouteDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.openapi(
    createRoute({
      method: "get", path: "/targets", tags: ["operators"], security: OPERATOR, middleware: deps.viewer,
      summary: "The targets (clouds and regions) tenants are sold in, and whether each answers",
      responses: { 200: json(TargetList, "the default first"), 401: UNAUTHORIZED, 403: FORBIDDEN },
    }),
    async (c) => {
      const problems = (await deps.targetProblems?.()) ?? {};
      const def = defaultTargetOf(deps.settings);
      return c.json({ targets: targetsOf(deps.settings).map((t) => ({ name: t.name, label: t.label, region: t.region, default: t.name === def, problem: problems[t.name] ?? null })) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get", path: "/capacity", tags: ["operators"], security: OPERATOR, middleware: deps.viewer,
      summary: "Sold, used and physical capacity per target and resource class (Placement's VCPU, MEMORY_MB, DISK_GB)",
      responses: { 200: json(CapacityList, "the default target first"), 401: UNAUTHORIZED, 403: FORBIDDEN },
    }),
    async (c) => c.json({ targets: deps.capacity ? await deps.capacity.report() : [] }, 200),
  );

  app.openapi(
    createRoute({
      method: "post", path: "/order-checks", tags: ["marketplace"], middleware: deps.signed,
      summary: "Order pre-check: would this plan be sold? (before the customer pays)",
      description: "Signed like `/v1/events`. `accepted: false` with the reasons the customer should read: more than the operator's limits, or more than the target has left to sell.",
      request: { body: { required: true, content: { "application/json": { schema: OrderCheck, example: { plan: { model: "prepaid", cores: 8, ramGb: 16, diskGb: 200, floatingIps: 2, target: "default" } } } } } },
      responses: {
        200: json(OrderCheckAnswer, "the verdict", { accepted: false, reasons: ["default has 4 vCPUs left to sell, the plan asks for 8 vCPUs"], target: "default" }),
        401: problem("missing or bad signature"),
        422: problem("not an order, or an unknown target"),
        503: problem("WEBHOOK_SECRET is not configured"),
      },
    }),
    async (c) => {
      const order = c.req.valid("json");
      const target = placementOf(order.plan, deps.settings).name;
      const reasons = planViolations(order.plan, deps.settings.limits);
      if (reasons.length === 0 && deps.capacity) {
        const current = order.subscription ? await deps.subscription(order.subscription) : null;
        const sameTarget = current && targetOf(current.desired.plan, defaultTargetOf(deps.settings)) === target;
        reasons.push(...(await deps.capacity.shortfalls(order.subscription ?? "", order.plan, { current: sameTarget ? demandOf(current.desired.plan) : null })));
      }
      return c.json({ accepted: reasons.length === 0, reasons, target }, 200);
    },
  );
  return app;
}
