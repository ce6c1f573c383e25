import { conflict, invalid, notFound } from "../domain/errors.js";
import {
  assignWaves, changesLine, declarationHash, nextRolloutStep, queuedStackOutcome, RolloutPlanner, rolloutNote, waveMarking, waveSizes,
  type RolloutGroup, type RolloutRecord, type RolloutStackState, type StackDeclaration,
} from "../domain/rollout.js";
import { defaultTargetOf, tenantSpecOf, type TenantSettings } from "../domain/tenant-spec.js";
import { targetOf } from "../domain/target.js";
import type { Logger } from "../log.js";
import type { DeclarationSource, FleetSchedule, RolloutLedger, SubscriptionLocks, WaveCount } from "./ports.js";

export interface RolloutRunnerOptions {
  rollouts: RolloutLedger;
  declarations: DeclarationSource;
  locks: SubscriptionLocks;
  settings: TenantSettings;
  /** The running program's version (program-version.ts): part of what the service declares. */
  programVersion: string;
  log: Logger;
  /** A wave's jobs were queued: the reconciler looks for work now. */
  kickReconciler: () => void;
  /** How often running rollouts are looked at (besides the kick when an operation ends). */
  tickMs?: number;
  /** Who takes each scheduled tick when several replicas run (one of them); none: this process, always. */
  schedule?: FleetSchedule;
  now?: () => number;
}

export interface RolloutPlan {
  programVersion: string;
  /** Ready stacks. */
  total: number;
  /** Of those, stacks whose declaration would change. */
  changing: number;
  groups: RolloutGroup[];
}

export interface RolloutProgressView {
  rollout: RolloutRecord;
  waves: Array<{ wave: number; size: number; stacks: Record<RolloutStackState, number> }>;
  failures: Array<{ subscriptionId: string; wave: number; reason: string | null }>;
}

/**
 * Ready stacks read per statement when a plan goes through all of them: a page's rows and specs live
 * while it is compared, so a smaller page leaves less for V8 to promote to its old space.
 */
const PAGE = 200;
/** Stacks marked per transaction when a wave starts (a wave of 9,000 is nine short transactions). */
const MARK_BATCH = 500;

/**
 * Fleet rollouts (domain/rollout.ts): plans them from what ready stacks declare against what the service
 * would declare now, stores them, and moves the running one on: each wave's stacks are marked for an
 * update (an operator's reapply whose message names the rollout, on the bulk lane, so customers' work goes
 * first), their outcomes followed, a pause between waves, a halt past the failure budget. Its state is in
 * the database: after a restart, or on another replica, the runner picks the running rollout up. Ticks
 * every `tickMs` and when an operation ends; one replica at a time moves rollouts (a database lock).
 */
export class RolloutRunner {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private tickAgain = false;
  private kicked: NodeJS.Timeout | undefined;
  private stopped = true;
  private differing: { at: number; count: number } | undefined;
  private replanning: Promise<RolloutPlan> | undefined;

  constructor(private readonly o: RolloutRunnerOptions) {}

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.scheduledTick(), this.o.tickMs ?? 1000);
    this.timer.unref();
    void this.tick();
  }

  /**
   * The timer's tick, taken by the one replica that claims this interval's (false: another replica has
   * it). Kicks (an operation of this replica ended) still tick at once: they follow that operation.
   */
  async scheduledTick(): Promise<boolean> {
    try {
      if (this.o.schedule && !(await this.o.schedule.claim("rollout-tick", this.o.tickMs ?? 1000))) return false;
    } catch (e) {
      this.o.log.warn("rollout tick not claimed: the database did not answer", { error: e instanceof Error ? e.message : String(e) });
      return false;
    }
    await this.tick();
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.kicked) clearTimeout(this.kicked);
    await this.ticking;
  }

  /** An operation ended: follow it soon (coalesced: a burst of outcomes is one tick). */
  kick(): void {
    if (this.stopped || this.kicked) return;
    this.kicked = setTimeout(() => {
      this.kicked = undefined;
      void this.tick();
    }, 20);
    this.kicked.unref();
  }

  /** What a rollout started now would change: every ready stack's declaration against the service's. */
  async plan(target?: string): Promise<RolloutPlan> {
    const planner = new RolloutPlanner();
    await this.eachDeclaration(target, (s) => void planner.add(s));
    const plan = planner.plan();
    if (target === undefined) this.differing = { at: this.now(), count: plan.changing };
    return { programVersion: this.o.programVersion, ...plan };
  }

  /**
   * Ready stacks that differ from what the service declares now (a gauge and a health line). Recomputed
   * at most every ten minutes, and after a rollout starts or ends: what the service declares is fixed for
   * the life of a process (its settings and program version), and the stacks it updates meanwhile declare
   * exactly that, so the count only goes stale through another replica or a rollout. A plan over 10,000
   * stacks allocates ~70 MB that V8 promotes before it dies (heap profile of bench/scale.ts), and once a
   * minute kept the service ~100 MiB above its resting size. One recomputation at a time: on a busy
   * embedded database a plan takes seconds, and each scrape meanwhile would start another.
   */
  async differingCount(maxAgeMs = 600_000): Promise<number> {
    if (!this.differing || this.now() - this.differing.at > maxAgeMs) {
      this.replanning ??= this.plan().finally(() => (this.replanning = undefined));
      await this.replanning;
    }
    return this.differing?.count ?? 0;
  }

  /**
   * Starts a rollout of every changing stack in `waves` (cumulative shares), by operator `by` (named in each
   * stack's update message); 409 while another one is not finished.
   */
  async begin(o: { waves: number[]; maxFailures: number; pauseSeconds: number; by: string | null; target?: string | undefined }): Promise<RolloutRecord> {
    const planner = new RolloutPlanner();
    const changing: Array<{ subscriptionId: string; changes: string }> = [];
    await this.eachDeclaration(o.target, (s) => {
      const changes = planner.add(s);
      if (changes) changing.push({ subscriptionId: s.subscriptionId, changes: changesLine(changes) });
    });
    const plan = planner.plan();
    if (changing.length === 0) throw conflict("nothing to roll out: every ready stack declares what the service would");
    const sizes = waveSizes(changing.length, o.waves);
    const created = await this.o.rollouts.create(
      { waves: o.waves, waveSizes: sizes, maxFailures: o.maxFailures, pauseSeconds: o.pauseSeconds, programVersion: this.o.programVersion, groups: plan.groups, startedBy: o.by },
      assignWaves(changing, sizes),
    );
    if (!created) throw conflict("another rollout is not finished: resume or abort it first (tenantctl rollout status)");
    this.o.log.info("rollout started", { rollout: created.id, stacks: changing.length, waves: sizes, ...(o.target ? { target: o.target } : {}) });
    this.differing = undefined;
    await this.tick();
    return (await this.o.rollouts.get(created.id)) ?? created;
  }

  async resume(id: number, o: { maxFailures?: number | undefined } = {}): Promise<RolloutRecord> {
    const r = await this.existing(id);
    if (r.state !== "halted") throw conflict(`rollout ${id} is ${r.state}: only a halted rollout resumes`);
    const failed = (await this.o.rollouts.counts(id)).filter((c) => c.state === "failed").reduce((a, c) => a + c.count, 0);
    const budget = o.maxFailures ?? r.maxFailures;
    if (failed > budget) throw invalid(`rollout ${id} has ${failed} failed stacks, more than a budget of ${budget}: resume with a larger --max-failures`);
    await this.o.rollouts.update(id, { state: "running", reason: null, maxFailures: budget });
    this.o.log.info("rollout resumed", { rollout: id, maxFailures: budget });
    await this.tick();
    return this.existing(id);
  }

  /**
   * Pauses a running rollout, by operator `by`: it halts (the stacks already queued finish their update,
   * no further wave starts) until `resume`.
   */
  async pause(id: number, by: string): Promise<RolloutRecord> {
    const r = await this.existing(id);
    if (r.state !== "running" && r.state !== "pausing") throw conflict(`rollout ${id} is ${r.state}: only a running rollout pauses`);
    await this.o.rollouts.update(id, { state: "halted", reason: `paused by ${by}`, pauseUntil: null });
    this.o.log.info("rollout paused", { rollout: id, by });
    return this.existing(id);
  }

  /** Aborts a rollout, by operator `by`. */
  async abort(id: number, by: string): Promise<RolloutRecord> {
    const r = await this.existing(id);
    if (r.state === "done" || r.state === "aborted") throw conflict(`rollout ${id} is ${r.state} already`);
    await this.o.rollouts.update(id, { state: "aborted", reason: `aborted by ${by}`, pauseUntil: null });
    const skipped = await this.o.rollouts.skipWaiting(id, "rollout aborted before its wave");
    this.o.log.warn("rollout aborted", { rollout: id, skipped });
    return this.existing(id);
  }

  list(): Promise<RolloutRecord[]> {
    return this.o.rollouts.list(100);
  }

  async progress(id: number): Promise<RolloutProgressView> {
    const rollout = await this.existing(id);
    return { rollout, waves: wavesOf(rollout, await this.o.rollouts.counts(id)), failures: await this.o.rollouts.failures(id, 100) };
  }

  /** Follows queued stacks' outcomes and moves running rollouts on; one tick at a time in this process. */
  tick(): Promise<void> {
    if (this.ticking) {
      this.tickAgain = true;
      return this.ticking;
    }
    const run = async () => {
      do {
        this.tickAgain = false;
        try {
          await this.o.locks.tryWithLock("rollouts", () => this.step());
        } catch (e) {
          this.o.log.error("rollout step failed", { error: e instanceof Error ? e.message : String(e) });
        }
      } while (this.tickAgain && !this.stopped);
    };
    const ticking: Promise<void> = run().finally(() => {
      if (this.ticking === ticking) this.ticking = undefined;
    });
    this.ticking = ticking;
    return ticking;
  }

  private async step(): Promise<void> {
    await this.settle();
    for (const r of await this.o.rollouts.moving()) {
      // A wave whose marking was interrupted (a crash, a restart) is finished first.
      if (r.state === "running" && (await this.queueWave(r, r.wave)) > 0) continue;
      const counts = await this.o.rollouts.counts(r.id);
      const inFlight = counts.filter((c) => c.wave === r.wave && (c.state === "queued" || c.state === "waiting")).reduce((a, c) => a + c.count, 0);
      const failed = counts.filter((c) => c.state === "failed").reduce((a, c) => a + c.count, 0);
      const pauseUntil = r.pauseUntil ? Date.parse(r.pauseUntil) : null;
      const step = nextRolloutStep({ state: r.state, wave: r.wave, waveSizes: r.waveSizes, inFlight, failed, maxFailures: r.maxFailures, pauseUntil }, this.now(), r.pauseSeconds * 1000);
      switch (step.do) {
        case "wait":
          break;
        case "halt":
          await this.o.rollouts.update(r.id, { state: "halted", reason: step.reason, pauseUntil: null });
          this.o.log.warn("rollout halted", { rollout: r.id, wave: r.wave + 1, reason: step.reason });
          break;
        case "pause":
          await this.o.rollouts.update(r.id, { state: "pausing", pauseUntil: new Date(step.until).toISOString() });
          break;
        case "start-wave":
          await this.o.rollouts.update(r.id, { state: "running", wave: step.wave, pauseUntil: null });
          this.o.log.info("rollout wave started", { rollout: r.id, wave: step.wave + 1, of: r.waveSizes.length });
          await this.queueWave({ ...r, wave: step.wave }, step.wave);
          break;
        case "finish":
          await this.o.rollouts.update(r.id, { state: "done", pauseUntil: null });
          this.o.log.info("rollout done", { rollout: r.id });
          this.differing = undefined;
          break;
      }
    }
  }

  /** Marks the wave's waiting stacks for their update; returns how many it took. */
  private async queueWave(r: RolloutRecord, wave: number): Promise<number> {
    let taken = 0;
    for (;;) {
      const n = await this.o.rollouts.queueWave(r.id, wave, MARK_BATCH, (sub, declaredHash, changes) => {
        const wanted = declarationHash(tenantSpecOf(sub.desired, this.o.settings), this.o.programVersion);
        const marking = waveMarking({ phase: sub.phase, cancelled: sub.desired.status === "cancelled" }, declaredHash, wanted);
        return marking.queue ? { note: rolloutNote(r.id, r.startedBy, wave, r.waveSizes.length, changes) } : { skip: marking.reason };
      });
      if (n === 0) break;
      taken += n;
      this.o.kickReconciler();
    }
    return taken;
  }

  /** What became of queued stacks whose subscription moved since the last look. */
  private async settle(): Promise<void> {
    for (;;) {
      const changed = await this.o.rollouts.queuedChanged(PAGE);
      const outcomes = changed.flatMap((q) => {
        const o = queuedStackOutcome(q, q.marked);
        return o ? [{ rolloutId: q.rolloutId, subscriptionId: q.subscriptionId, ...o }] : [];
      });
      await this.o.rollouts.settle(outcomes);
      // Unsettled ones (an update under way) come back each time: only go on while pages settle something.
      if (changed.length < PAGE || outcomes.length === 0) return;
    }
  }

  private async existing(id: number): Promise<RolloutRecord> {
    const r = await this.o.rollouts.get(id);
    if (!r) throw notFound(`rollout ${id} not found`);
    return r;
  }

  /**
   * Every ready stack's declaration (of one target, when named), against what the service would declare,
   * a page at a time (none kept).
   */
  private async eachDeclaration(target: string | undefined, visit: (s: StackDeclaration) => void): Promise<void> {
    for (let after: string | null = null; ; ) {
      const page = await this.o.declarations.readyDeclarations(after, PAGE);
      for (const d of page) {
        if (target !== undefined && targetOf(d.desired.plan, defaultTargetOf(this.o.settings)) !== target) continue;
        const spec = tenantSpecOf(d.desired, this.o.settings);
        visit({ subscriptionId: d.id, applied: d.declared, wanted: { spec, programVersion: this.o.programVersion, hash: declarationHash(spec, this.o.programVersion) } });
      }
      if (page.length < PAGE) return;
      after = page.at(-1)!.id;
    }
  }
}

/** Stacks per wave and state, every state present (0 when none). */
function wavesOf(r: RolloutRecord, counts: readonly WaveCount[]): RolloutProgressView["waves"] {
  return r.waveSizes.map((size, wave) => {
    const stacks: Record<RolloutStackState, number> = { waiting: 0, queued: 0, succeeded: 0, failed: 0, skipped: 0 };
    for (const c of counts) if (c.wave === wave) stacks[c.state] += c.count;
    return { wave, size, stacks };
  });
}
