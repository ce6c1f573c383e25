import { createHash } from "node:crypto";
import { z } from "zod";

/**
 * Fleet rollouts: when what the service would declare for ready stacks changes (the quota defaults file,
 * plan limits, the region, a new version of the Pulumi program), the change is applied deliberately, in
 * waves, never silently by the next unrelated update. Pure: the plan, the waves and the failure budget.
 */

/** `"1%,10%,100%"`: cumulative shares of the stacks to change, strictly increasing, ending at 100%. */
export const WaveList = z
  .array(z.string().regex(/^\d{1,3}(\.\d+)?%$/, "a wave is a percentage such as 10%"))
  .min(1)
  .max(10)
  .transform((ws) => ws.map((w) => Number(w.slice(0, -1))))
  .refine((ps) => ps.every((p) => p > 0 && p <= 100), "each wave is more than 0% and at most 100%")
  .refine((ps) => ps.every((p, i) => i === 0 || p > ps[i - 1]!), "waves grow: each one is a larger share than the one before")
  .refine((ps) => ps.at(-1) === 100, "the last wave is 100%");
export type WaveList = z.infer<typeof WaveList>;

export const DEFAULT_WAVES = ["1%", "10%", "100%"];

/**
 * How many stacks each wave changes (not cumulative), for `total` stacks: wave k ends at
 * ceil(total x share_k) stacks; a wave left empty by rounding is dropped, and the first one has at least
 * one stack, so a canary always comes first.
 */
export function waveSizes(total: number, shares: readonly number[]): number[] {
  const sizes: number[] = [];
  let done = 0;
  for (const share of shares) {
    const upTo = Math.min(total, Math.max(done === 0 && total > 0 ? 1 : 0, Math.ceil((total * share) / 100)));
    if (upTo > done) sizes.push(upTo - done);
    done = Math.max(done, upTo);
  }
  return sizes;
}

/** The same JSON for the same value, whatever the order its keys were written in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What a stack declares, as one hash: the tenant spec and the version of the program that declares it.
 * Stored with every successful update; a ready stack whose hash differs from the one the service would
 * now compute is part of the next rollout.
 */
export function declarationHash(spec: unknown, programVersion: string): string {
  return createHash("sha256").update(`${programVersion}\n${canonicalJson(spec)}`).digest("hex").slice(0, 32);
}

/** One changed leaf: `quotas.compute.keyPairs: 100 -> 20`. */
export interface FieldChange {
  path: string;
  from: unknown;
  to: unknown;
}

/** The leaves that differ between two declarations (objects compared key by key, arrays as values). */
export function declarationDiff(from: unknown, to: unknown, path = ""): FieldChange[] {
  const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
  if (isObject(from) && isObject(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    return keys.flatMap((k) => declarationDiff(from[k], to[k], path ? `${path}.${k}` : k));
  }
  return canonicalJson(from) === canonicalJson(to) ? [] : [{ path, from, to }];
}

export const describeChange = (c: FieldChange): string => `${c.path}: ${canonicalJson(c.from) ?? "none"} -> ${canonicalJson(c.to) ?? "none"}`;

/** What a rollout would do to one stack: its declaration now and as the service would write it. */
export interface StackDeclaration {
  subscriptionId: string;
  applied: { hash: string; spec: unknown; programVersion: string } | null;
  wanted: { hash: string; spec: unknown; programVersion: string };
}

export interface RolloutGroup {
  /** The changes every stack of the group would get, one line each (the group's identity). */
  changes: string[];
  count: number;
  /** A few of its subscriptions, for an operator to preview by hand. */
  examples: string[];
}

/** What a rollout would change on one stack, one line per change; null if it already declares what the service would. */
export function changesOf(s: StackDeclaration): string[] | null {
  if (s.applied?.hash === s.wanted.hash) return null;
  if (!s.applied) return ["declaration not recorded (applied before rollouts were tracked)"];
  return [
    ...(s.applied.programVersion !== s.wanted.programVersion ? [`program: ${s.applied.programVersion} -> ${s.wanted.programVersion}`] : []),
    ...declarationDiff(s.applied.spec, s.wanted.spec).map(describeChange),
  ];
}

/**
 * The grouped diff a rollout plan shows: stacks whose declaration would change, grouped by exactly the
 * same set of changes (10,000 tenants that all get `keyPairs: 100 -> 20` are one line), largest first.
 * A stack updated before hashes were recorded counts as "declaration not recorded". Built one stack at a
 * time (`add`), so that a plan over a fleet holds its groups, never the fleet's declarations.
 */
export class RolloutPlanner {
  private readonly groups = new Map<string, RolloutGroup>();
  private total = 0;
  private changing = 0;

  constructor(private readonly examplesPerGroup = 3) {}

  /** Counts one ready stack in; returns what a rollout would change on it (null: nothing). */
  add(s: StackDeclaration): string[] | null {
    this.total++;
    const changes = changesOf(s);
    if (!changes) return null;
    this.changing++;
    const key = changes.join("\n");
    const group = this.groups.get(key) ?? { changes, count: 0, examples: [] };
    group.count++;
    if (group.examples.length < this.examplesPerGroup) group.examples.push(s.subscriptionId);
    this.groups.set(key, group);
    return changes;
  }

  plan(): { total: number; changing: number; groups: RolloutGroup[] } {
    const groups = [...this.groups.values()].sort((a, b) => b.count - a.count || (a.changes[0]! < b.changes[0]! ? -1 : 1));
    return { total: this.total, changing: this.changing, groups };
  }
}

/** The plan of `stacks` at once (RolloutPlanner over all of them). */
export function planRollout(stacks: readonly StackDeclaration[], examplesPerGroup = 3): { total: number; changing: number; groups: RolloutGroup[] } {
  const planner = new RolloutPlanner(examplesPerGroup);
  for (const s of stacks) planner.add(s);
  return planner.plan();
}

/**
 * running: a wave is being applied; pausing: between two waves; halted: failures went past the budget, or
 * an operator paused it (resume goes on, abort ends it); aborted: an operator stopped it; done: every
 * wave applied.
 */
export const RolloutState = z.enum(["running", "pausing", "halted", "aborted", "done"]);
export type RolloutState = z.infer<typeof RolloutState>;

/** One rollout's progress, as the pure decision below reads it. */
export interface RolloutProgress {
  state: RolloutState;
  /** Index of the wave being applied (or last applied). */
  wave: number;
  waveSizes: number[];
  /** Stacks of the current wave still being applied. */
  inFlight: number;
  failed: number;
  maxFailures: number;
  /** When the pause after the last finished wave ends (ms since epoch), if pausing. */
  pauseUntil: number | null;
}

export type RolloutStep =
  | { do: "wait" }
  | { do: "halt"; reason: string }
  | { do: "pause"; until: number }
  | { do: "start-wave"; wave: number }
  | { do: "finish" };

/**
 * The next step of a rollout, from its progress and the clock. The budget counts failed stacks across
 * every wave; going past it halts the rollout before another wave starts (the wave in flight finishes:
 * its updates are already queued and each is safe on its own).
 */
export function nextRolloutStep(p: RolloutProgress, now: number, pauseMs: number): RolloutStep {
  if (p.state === "halted" || p.state === "aborted" || p.state === "done") return { do: "wait" };
  if (p.failed > p.maxFailures) return { do: "halt", reason: `${p.failed} stacks failed, more than the budget of ${p.maxFailures}` };
  if (p.state === "pausing") return p.pauseUntil !== null && now < p.pauseUntil ? { do: "wait" } : { do: "start-wave", wave: p.wave + 1 };
  if (p.inFlight > 0) return { do: "wait" };
  if (p.wave + 1 >= p.waveSizes.length) return { do: "finish" };
  return pauseMs > 0 ? { do: "pause", until: now + pauseMs } : { do: "start-wave", wave: p.wave + 1 };
}

/**
 * Which wave each changing stack is in: in subscription id order (deterministic: the same plan gives the
 * same canary), the first `sizes[0]` in wave 0 and so on.
 */
export function assignWaves<T extends { subscriptionId: string }>(stacks: readonly T[], sizes: readonly number[]): Array<T & { wave: number }> {
  const sorted = [...stacks].sort((a, b) => (a.subscriptionId < b.subscriptionId ? -1 : a.subscriptionId > b.subscriptionId ? 1 : 0));
  const out: Array<T & { wave: number }> = [];
  let wave = 0;
  let left = sizes[0] ?? 0;
  for (const s of sorted) {
    while (left === 0 && wave < sizes.length - 1) left = sizes[++wave] ?? 0;
    out.push({ ...s, wave });
    left--;
  }
  return out;
}

/**
 * The stack history's message of a rollout's update (the history is the audit log): which rollout, which
 * wave, what changes. `wave` counts from 0; shown from 1.
 */
export function rolloutNote(rollout: number, startedBy: string | null, wave: number, waves: number, changes: string): string {
  return `rollout ${rollout}${startedBy ? ` by ${startedBy}` : ""} wave ${wave + 1}/${waves}: ${changes}`;
}

/** A stack's changes as one line of a history message (bounded: a message is not a report). */
export const changesLine = (changes: readonly string[]): string => {
  const line = changes.join("; ");
  return line.length > 240 ? `${line.slice(0, 237)}...` : line;
};

/** waiting: its wave has not started; queued: marked for an update; then succeeded, failed or skipped. */
export const RolloutStackState = z.enum(["waiting", "queued", "succeeded", "failed", "skipped"]);
export type RolloutStackState = z.infer<typeof RolloutStackState>;

/** What a wave's start does with one of its stacks, as it is then. */
export type WaveMarking = { queue: true } | { queue: false; reason: string };

/**
 * A stack's wave starts: it is updated only if it is still ready and still differs. One that a customer
 * changed meanwhile (pending, applying) gets what the service declares now from its own update; a
 * cancelled one has nothing to roll out to.
 */
export function waveMarking(s: { phase: string; cancelled: boolean }, declaredHash: string | null, wantedHash: string): WaveMarking {
  if (s.cancelled || s.phase === "cancelled" || s.phase === "held") return { queue: false, reason: "cancelled meanwhile" };
  if (s.phase !== "ready") return { queue: false, reason: `changed meanwhile (phase ${s.phase}): its own update applies what the service declares now` };
  if (declaredHash === wantedHash) return { queue: false, reason: "already declares it" };
  return { queue: true };
}

/**
 * What became of a queued stack, from its subscription now (`marked`: the generation the rollout asked
 * for); null while its update is still to come or under way. An update of that generation or a newer
 * one (a customer's change meanwhile carries the rollout's too) is a success; a failure of a newer
 * generation is the customer's update's, not the rollout's.
 */
export function queuedStackOutcome(
  s: { phase: string; cancelled: boolean; generation: number; appliedGeneration: number; lastError: string | null },
  marked: number,
): { state: "succeeded" | "failed" | "skipped"; reason: string | null } | null {
  if (s.cancelled || s.phase === "cancelled" || s.phase === "held") return { state: "skipped", reason: "cancelled meanwhile" };
  if (s.appliedGeneration >= marked) return { state: "succeeded", reason: null };
  if (s.phase === "failed") {
    return s.generation === marked
      ? { state: "failed", reason: s.lastError ?? "failed" }
      : { state: "skipped", reason: `changed by a customer meanwhile; that update failed: ${s.lastError ?? "failed"}` };
  }
  return null;
}

/** A rollout as stored (src/store/rollout-store.ts). `waves`: the cumulative shares asked for. */
export const RolloutRecord = z.object({
  id: z.coerce.number(),
  state: RolloutState,
  waves: z.array(z.number()),
  waveSizes: z.array(z.number()),
  /** The wave being applied or last applied (0-based). */
  wave: z.number(),
  maxFailures: z.number(),
  pauseSeconds: z.number(),
  pauseUntil: z.string().nullable(),
  programVersion: z.string(),
  groups: z.array(z.object({ changes: z.array(z.string()), count: z.number(), examples: z.array(z.string()) })),
  /** Why it halted or was aborted. */
  reason: z.string().nullable(),
  /** The operator who started it (null: started before operators were named). */
  startedBy: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type RolloutRecord = z.infer<typeof RolloutRecord>;
