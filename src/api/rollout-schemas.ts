/**
 * The shapes of the rollout routes (api/rollout-routes.ts), as api/schemas.ts is for the rest: they
 * validate requests, generate /openapi.json and type tenantctl's `rollout` commands.
 */
import { z } from "@hono/zod-openapi";
import { DEFAULT_WAVES, RolloutStackState, RolloutState, WaveList } from "../domain/rollout.js";
import { TargetName } from "../domain/target.js";

const Group = z.object({
  changes: z.array(z.string()).openapi({ description: "what every stack of the group would get, one line per change" }),
  count: z.number().int(),
  examples: z.array(z.string()).openapi({ description: "a few of its subscriptions, to preview by hand" }),
});

export const RolloutPlan = z
  .object({
    programVersion: z.string().openapi({ description: "the running program's version (its files' hash and the provider's version)" }),
    total: z.number().int().openapi({ description: "ready stacks" }),
    changing: z.number().int().openapi({ description: "of those, stacks whose declaration would change" }),
    groups: z.array(Group).openapi({ description: "changing stacks grouped by exactly the changes they would get, largest first" }),
  })
  .openapi("RolloutPlan");

export const EXAMPLE_PLAN = {
  programVersion: "p-3f2a9c1d0b7e+openstack-3.15.2",
  total: 10000,
  changing: 10000,
  groups: [{ changes: ["quotas.compute.keyPairs: 100 -> 20"], count: 10000, examples: ["s00000", "s00001", "s00002"] }],
};

/**
 * Waves as a list or as tenantctl's comma string ("1%,10%,100%"). The patterns say in the OpenAPI document
 * what WaveList accepts, as far as JSON Schema can: a share in (0, 100] each, at most ten, the string
 * ending at 100%; that they grow (and the list ends at 100%) only the description can say.
 */
const SHARE = String.raw`(100(\.0+)?|[1-9]\d?(\.\d+)?|0\.\d*[1-9]\d*)%`;
const Waves = z
  .union([
    z.array(z.string().regex(new RegExp(`^${SHARE}$`), "a wave is a percentage such as 10%, more than 0% and at most 100%")).min(1).max(10),
    z.string().regex(new RegExp(String.raw`^\s*(${SHARE}\s*,\s*){0,9}100(\.0+)?%\s*$`), "waves are percentages such as 1%,10%,100%, ending at 100%").transform((s) => s.split(",").map((w) => w.trim())),
  ])
  .pipe(WaveList)
  .openapi({ description: "cumulative shares of the changing stacks, each larger than the one before, ending at 100%", example: DEFAULT_WAVES });

export const RolloutStart = z
  .object({
    waves: Waves.optional(),
    maxFailures: z.number().int().min(0).max(1_000_000).default(0).openapi({ description: "failed stacks tolerated: one more halts the rollout before its next wave" }),
    pauseSeconds: z.number().int().min(0).max(86_400).default(60).openapi({ description: "pause between two waves" }),
    target: TargetName.optional().openapi({ description: "only the stacks of this target (TARGETS_FILE); absent: every target" }),
  })
  .openapi("RolloutStart");
export const RolloutPlanQuery = z.object({ target: TargetName.optional().openapi({ param: { name: "target", in: "query" }, description: "only the stacks of this target" }) });

export const RolloutResume = z.object({
  maxFailures: z.number().int().min(0).max(1_000_000).optional().openapi({ description: "a new budget (the halted one is kept if absent)" }),
});

export const Rollout = z
  .object({
    id: z.number().int(),
    state: RolloutState,
    waves: z.array(z.number()).openapi({ description: "cumulative shares, in %" }),
    waveSizes: z.array(z.number().int()).openapi({ description: "stacks per wave" }),
    wave: z.number().int().openapi({ description: "the wave being applied or last applied, from 1" }),
    maxFailures: z.number().int(),
    pauseSeconds: z.number().int(),
    pauseUntil: z.string().nullable(),
    programVersion: z.string(),
    groups: z.array(Group),
    reason: z.string().nullable().openapi({ description: "why it halted or was aborted" }),
    startedBy: z.string().nullable().openapi({ description: "the operator who started it (null: before operators were named)" }),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi("Rollout");

export const RolloutList = z.object({ rollouts: z.array(Rollout) });

const StackCounts = z.object(Object.fromEntries(RolloutStackState.options.map((s) => [s, z.number().int()])) as Record<RolloutStackState, z.ZodNumber>);

export const RolloutDetail = Rollout.extend({
  progress: z.array(z.object({ wave: z.number().int().openapi({ description: "from 1" }), size: z.number().int(), stacks: StackCounts })),
  failures: z.array(z.object({ subscription: z.string(), wave: z.number().int(), reason: z.string().nullable() })).openapi({ description: "the first 100 failed stacks, with why" }),
}).openapi("RolloutDetail");

export const RolloutParams = z.object({ id: z.coerce.number().int().min(1).openapi({ param: { name: "id", in: "path" }, example: 1 }) });
