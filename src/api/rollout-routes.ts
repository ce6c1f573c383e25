import { OpenAPIHono, createRoute, type z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { badRequest, invalid } from "../domain/errors.js";
import { DEFAULT_WAVES, WaveList, type RolloutRecord } from "../domain/rollout.js";
import type { RolloutProgressView, RolloutRunner } from "../provisioning/rollout-runner.js";
import { validationHook } from "./problem.js";
import { FORBIDDEN, json, OPERATOR, problem, UNAUTHORIZED } from "./route-docs.js";
import type { OperatorEnv, RequireRole } from "./operator-auth.js";
import * as R from "./rollout-schemas.js";

/** A rollout as the API shows it (waves counted from 1, as operators say them). */
export function rolloutView(r: RolloutRecord): z.infer<typeof R.Rollout> {
  return {
    id: r.id, state: r.state, waves: r.waves, waveSizes: r.waveSizes, wave: r.wave + 1, maxFailures: r.maxFailures, pauseSeconds: r.pauseSeconds,
    pauseUntil: r.pauseUntil, programVersion: r.programVersion, groups: r.groups, reason: r.reason, startedBy: r.startedBy, createdAt: r.createdAt, updatedAt: r.updatedAt, finishedAt: r.finishedAt,
  };
}

export function rolloutDetailView(p: RolloutProgressView): z.infer<typeof R.RolloutDetail> {
  return {
    ...rolloutView(p.rollout),
    progress: p.waves.map((w) => ({ wave: w.wave + 1, size: w.size, stacks: w.stacks })),
    failures: p.failures.map((f) => ({ subscription: f.subscriptionId, wave: f.wave + 1, reason: f.reason })),
  };
}

const Params = { params: R.RolloutParams };

/** An optional JSON body (every field has a default: an empty request is the default), validated like any body. */
async function optionalBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const raw = (await c.req.text()).trim();
  let value: unknown = {};
  try {
    if (raw) value = JSON.parse(raw);
  } catch {
    throw badRequest("the body is not JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid("body does not match the schema", parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })));
  return parsed.data;
}
const NOT_FOUND = problem("no such rollout");

/** Operator routes of fleet rollouts (mounted at /v1): plan, start, progress, resume, abort. */
export function rolloutRoutes(deps: { runner: RolloutRunner; requireRole: RequireRole; acting: (action: string) => MiddlewareHandler[] }) {
  const app = new OpenAPIHono<OperatorEnv>({ defaultHook: validationHook });
  const { runner, acting } = deps;
  const middleware = [deps.requireRole("viewer")];
  app.openapi(
    createRoute({
      method: "post", path: "/rollouts/plan", tags: ["rollouts"], security: OPERATOR, middleware: acting("rollout.plan"),
      summary: "What a rollout would change: ready stacks whose declaration differs from what the service now declares, grouped by change",
      request: { query: R.RolloutPlanQuery },
      responses: { 200: json(R.RolloutPlan, "the grouped diff", R.EXAMPLE_PLAN), 401: UNAUTHORIZED, 403: FORBIDDEN, 422: problem("not a target name") },
    }),
    async (c) => c.json(await runner.plan(c.req.valid("query").target), 200),
  );
  app.openapi(
    createRoute({
      method: "post", path: "/rollouts", tags: ["rollouts"], security: OPERATOR, middleware: acting("rollout.start"),
      summary: "Start a rollout of every changing stack, in waves with a pause between them and a failure budget",
      request: { body: { content: { "application/json": { schema: R.RolloutStart } }, required: false } },
      responses: {
        201: json(R.Rollout, "started: its first wave is queued"), 401: UNAUTHORIZED, 403: FORBIDDEN,
        409: problem("another rollout is not finished, or nothing would change"), 422: problem("waves, budget or pause not valid"),
      },
    }),
    async (c) => {
      const body = await optionalBody(c, R.RolloutStart);
      const started = await runner.begin({ waves: body.waves ?? WaveList.parse(DEFAULT_WAVES), maxFailures: body.maxFailures, pauseSeconds: body.pauseSeconds, by: c.get("operator").name, target: body.target });
      return c.json(rolloutView(started), 201);
    },
  );
  app.openapi(
    createRoute({
      method: "get", path: "/rollouts", tags: ["rollouts"], security: OPERATOR, middleware, summary: "Rollouts, newest first",
      responses: { 200: json(R.RolloutList, "newest first (the last 100)"), 401: UNAUTHORIZED, 403: FORBIDDEN },
    }),
    async (c) => c.json({ rollouts: (await runner.list()).map(rolloutView) }, 200),
  );
  app.openapi(
    createRoute({
      method: "get", path: "/rollouts/{id}", tags: ["rollouts"], security: OPERATOR, middleware, request: Params,
      summary: "One rollout: its state, stacks per wave and state, failures with their reasons",
      responses: { 200: json(R.RolloutDetail, "the rollout"), 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND },
    }),
    async (c) => c.json(rolloutDetailView(await runner.progress(c.req.valid("param").id)), 200),
  );
  app.openapi(
    createRoute({
      method: "post", path: "/rollouts/{id}/resume", tags: ["rollouts"], security: OPERATOR, middleware: acting("rollout.resume"),
      request: { ...Params, body: { content: { "application/json": { schema: R.RolloutResume } }, required: false } },
      summary: "Resume a halted rollout (with a new failure budget if given)",
      responses: { 200: json(R.Rollout, "running again"), 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND, 409: problem("not halted"), 422: problem("failures still past the budget") },
    }),
    async (c) => {
      const body = await optionalBody(c, R.RolloutResume);
      return c.json(rolloutView(await runner.resume(c.req.valid("param").id, { maxFailures: body.maxFailures })), 200);
    },
  );
  // An operator's stop of a rollout: for a while (pause, until resumed) or for good (abort).
  const stops = [
    { verb: "pause", summary: "Pause a running rollout: it halts (stacks already queued finish their update) until resumed", done: "halted, its reason naming who paused it", refused: "not running" },
    { verb: "abort", summary: "Abort a rollout: stacks not yet queued are skipped (those queued finish their update)", done: "aborted", refused: "already done or aborted" },
  ] as const;
  for (const stop of stops) {
    app.openapi(
      createRoute({
        method: "post", path: `/rollouts/{id}/${stop.verb}`, tags: ["rollouts"], security: OPERATOR, middleware: acting(`rollout.${stop.verb}`), request: Params,
        summary: stop.summary,
        responses: { 200: json(R.Rollout, stop.done), 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND, 409: problem(stop.refused) },
      }),
      async (c) => c.json(rolloutView(await runner[stop.verb](c.req.valid("param").id, c.get("operator").name)), 200),
    );
  }
  return app;
}
