import type { z } from "zod";
import type * as R from "../api/rollout-schemas.js";
import type { ServiceClient } from "./client.js";
import { UsageError } from "./client.js";
import { type CommandSpec, wholeNumber } from "./args.js";
import { fields, print, say, table } from "./format.js";

type Body<T extends z.ZodType> = z.output<T>;

/** What `tenantctl rollout` needs of the parsed command line. */
export interface RolloutArgs {
  json: boolean;
  flag(name: string): string | undefined;
}

const maxFailures = { value: "N", check: wholeNumber(0), help: "failed stacks the rollout tolerates before it halts" };

/** `rollout` and its subcommands, as tenantctl's command line declares them (cli/args.ts). */
export const ROLLOUT_COMMANDS: CommandSpec[] = [
  { name: "rollout plan", summary: "ready stacks whose declaration would change (quota defaults, limits, region, program), grouped", options: { target: { value: "T", help: "only the stacks of this target" } } },
  {
    name: "rollout start", summary: "apply the change in waves (bulk lane: customers' work goes first)",
    options: {
      waves: { value: "1%,10%,100%", help: "the share of the stacks done by the end of each wave" },
      "max-failures": maxFailures,
      pause: { value: "SECONDS", check: wholeNumber(0), help: "wait between waves" },
      target: { value: "T", help: "only the stacks of this target (tenantctl targets)" },
    },
  },
  { name: "rollout status", args: "[<id>]", positionals: { min: 0, max: 1 }, summary: "the rollouts, or one: stacks per wave and state, failures with reasons" },
  { name: "rollout resume", args: "<id>", positionals: { min: 1, max: 1 }, summary: "go on with a halted rollout", options: { "max-failures": maxFailures } },
  { name: "rollout pause", args: "<id>", positionals: { min: 1, max: 1 }, summary: "halt a running rollout until resumed (stacks already queued finish)" },
  { name: "rollout abort", args: "<id>", positionals: { min: 1, max: 1 }, summary: "stop: stacks not yet queued are skipped" },
];

const count = (a: RolloutArgs, name: string): number | undefined => {
  const v = a.flag(name);
  return v === undefined ? undefined : Number(v);
};

const rolloutId = (id: string | undefined): string => {
  if (!id || !/^[1-9]\d*$/.test(id)) throw new UsageError("a rollout id is required (tenantctl rollout status)");
  return id;
};

function showRollout(r: Body<typeof R.Rollout>): void {
  fields([
    ["rollout", r.id], ["state", r.state], ["wave", `${r.wave} of ${r.waveSizes.length} (${r.waveSizes.join(", ")} stacks)`],
    ["failure budget", r.maxFailures], ["pause", `${r.pauseSeconds} s${r.pauseUntil ? `, until ${r.pauseUntil}` : ""}`],
    ["program", r.programVersion], ["reason", r.reason], ["started", `${r.createdAt}${r.startedBy ? ` by ${r.startedBy}` : ""}`], ["finished", r.finishedAt],
  ]);
}

export async function rolloutCommand(client: ServiceClient, rest: string[], a: RolloutArgs): Promise<void> {
  const [sub, id] = rest;
  switch (sub) {
    case "plan": {
      const target = a.flag("target");
      const plan = await client.json<Body<typeof R.RolloutPlan>>("POST", `/v1/rollouts/plan${target ? `?target=${encodeURIComponent(target)}` : ""}`);
      if (a.json) return print(plan);
      say(`${plan.changing} of ${plan.total} ready stacks would change (program ${plan.programVersion})`);
      if (plan.changing === 0) return;
      return table(plan.groups.map((g) => ({ stacks: g.count, changes: g.changes.join("; "), examples: g.examples.join(", ") })));
    }
    case "start": {
      const waves = a.flag("waves");
      const maxFailures = count(a, "max-failures");
      const pauseSeconds = count(a, "pause");
      const target = a.flag("target");
      const body = { ...(waves ? { waves } : {}), ...(maxFailures !== undefined ? { maxFailures } : {}), ...(pauseSeconds !== undefined ? { pauseSeconds } : {}), ...(target ? { target } : {}) };
      const r = await client.json<Body<typeof R.Rollout>>("POST", "/v1/rollouts", body);
      if (a.json) return print(r);
      return say(`rollout ${r.id} started: waves of ${r.waveSizes.join(", ")} stacks (tenantctl rollout status ${r.id})`);
    }
    case "status": {
      if (!id) {
        const body = await client.json<Body<typeof R.RolloutList>>("GET", "/v1/rollouts");
        if (a.json) return print(body);
        return table(body.rollouts.map((r) => ({ id: r.id, state: r.state, wave: `${r.wave}/${r.waveSizes.length}`, stacks: r.waveSizes.reduce((x, y) => x + y, 0), started: r.createdAt, reason: r.reason ?? "" })));
      }
      const r = await client.json<Body<typeof R.RolloutDetail>>("GET", `/v1/rollouts/${rolloutId(id)}`);
      if (a.json) return print(r);
      showRollout(r);
      say("");
      table(r.progress.map((w) => ({ wave: w.wave, size: w.size, ...w.stacks })));
      if (r.failures.length === 0) return;
      say("\nfailed stacks:");
      return table(r.failures.map((f) => ({ subscription: f.subscription, wave: f.wave, reason: f.reason ?? "" })));
    }
    case "resume": {
      const maxFailures = count(a, "max-failures");
      const r = await client.json<Body<typeof R.Rollout>>("POST", `/v1/rollouts/${rolloutId(id)}/resume`, maxFailures !== undefined ? { maxFailures } : {});
      return a.json ? print(r) : say(`rollout ${r.id} ${r.state} (budget ${r.maxFailures} failures)`);
    }
    case "pause": {
      const r = await client.json<Body<typeof R.Rollout>>("POST", `/v1/rollouts/${rolloutId(id)}/pause`);
      return a.json ? print(r) : say(`rollout ${r.id} ${r.state}: ${r.reason ?? ""} (tenantctl rollout resume ${r.id})`);
    }
    case "abort": {
      const r = await client.json<Body<typeof R.Rollout>>("POST", `/v1/rollouts/${rolloutId(id)}/abort`);
      return a.json ? print(r) : say(`rollout ${r.id} aborted: stacks not yet queued are skipped`);
    }
    default:
      throw new UsageError("rollout needs plan, start, status, pause, resume or abort");
  }
}
