import { OpenAPIHono, createRoute, type z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { Phase } from "../domain/lifecycle.js";
import { validationHook } from "./problem.js";
import { FORBIDDEN, json, OPERATOR, UNAUTHORIZED } from "./route-docs.js";
import { FleetSummary } from "./schemas.js";

export interface FleetSources {
  countsByStatus(): Promise<Array<{ status: string; phase: string; count: number }>>;
  deadLetterCount(): Promise<number>;
  driftedCount(): Promise<number>;
  /** Subscriptions set aside because their stored record cannot be read. */
  unreadable(): Promise<Array<{ subscription: string; reason: string; since: string }>>;
  /** Absent when the service does not sell on Cloudesire. */
  outboxStats?: (() => Promise<{ waiting: number; dead: number; held: number; oldestWaitingSeconds: number }>) | undefined;
}

/** GET /v1/fleet (mounted at /v1): what the console's fleet view and an operator's first look need, in one read. */
export function fleetRoutes(deps: FleetSources & { viewer: MiddlewareHandler[] }) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.openapi(
    createRoute({
      method: "get", path: "/fleet", tags: ["operators"], security: OPERATOR, middleware: deps.viewer,
      summary: "The fleet at a glance: subscriptions per phase, dead letters, drifted stacks, the Cloudesire outbox",
      responses: {
        200: json(FleetSummary, "counts now", {
          total: 12, phases: { pending: 0, applying: 1, ready: 9, failed: 1, held: 0, waiting: 0, cancelled: 1 }, deadLetters: 1, drifted: 0, outbox: null, unreadable: [],
        }),
        401: UNAUTHORIZED,
        403: FORBIDDEN,
      },
    }),
    async (c) => {
      const phases = Object.fromEntries(Phase.options.map((p) => [p, 0])) as z.infer<typeof FleetSummary>["phases"];
      let total = 0;
      for (const r of await deps.countsByStatus()) {
        const phase = Phase.safeParse(r.phase);
        if (phase.success) phases[phase.data] += r.count;
        total += r.count;
      }
      const [deadLetters, drifted, outbox, unreadable] = await Promise.all([deps.deadLetterCount(), deps.driftedCount(), deps.outboxStats ? deps.outboxStats() : null, deps.unreadable()]);
      return c.json({ total, phases, deadLetters, drifted, outbox, unreadable }, 200);
    },
  );
  return app;
}
