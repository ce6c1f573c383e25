import type { StackOutputs } from "../../src/domain/lifecycle.js";
import type { TenantIds } from "../../src/domain/tenant-observation.js";
import type { TenantSpec } from "../../src/domain/tenant-spec.js";
import type { Engine } from "../../src/provisioning/engine.js";

/**
 * An engine double for the scale bench: every stack operation only *waits* as long as a real one would
 * (nothing is applied anywhere), so the queue, the store and the HTTP API are what is measured.
 *
 * Durations follow a log-normal law, the usual shape of service times with a long tail: median 8 s (a
 * `pulumi up` of six Keystone/quota resources on a healthy cloud), sigma 0.6 (p90 17 s, p99 32 s, mean
 * 9.6 s). `timeScale` shrinks them (1/100: median 80 ms) so 10,000 operations end in minutes; waiting is
 * a timer, so it costs no CPU, like the real engine whose work happens in a `pulumi` child process.
 * Seeded: two runs draw the same durations.
 */
export class PacedEngine implements Engine {
  readonly calls = { up: 0, destroy: 0, refresh: 0, preview: 0, drift: 0, outputs: 0, adopt: 0, breakLocks: 0, history: 0 };
  private readonly outs = new Map<string, StackOutputs>();
  private seed: number;

  constructor(
    private readonly o: {
      medianMs: number; sigma: number; timeScale: number; seed?: number;
      /** Stacks whose operations are scaled otherwise (the scale bench's purchases during its rollout). */
      timeScaleOf?: (stack: string) => number | undefined;
      /** Hears what each `up` declared for its tenant, and each `destroy` (the scale bench's cloud double answers from it). */
      onApplied?: (ids: TenantIds, spec: TenantSpec) => void;
      onDestroyed?: (ids: TenantIds) => void;
    },
  ) {
    this.seed = o.seed ?? 42;
  }

  /** The mean of the (unscaled) law, e^(mu + sigma^2/2): the ideal run time is n x mean / concurrency. */
  get meanMs(): number {
    return this.o.medianMs * Math.exp((this.o.sigma * this.o.sigma) / 2);
  }

  /** One operation's duration in ms, already scaled (as `stack`'s are, when given). */
  sampleMs(stack?: string): number {
    // Box-Muller on a small LCG: reproducible without a dependency.
    const u1 = Math.max(this.uniform(), 1e-12);
    const u2 = this.uniform();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    const scale = (stack === undefined ? undefined : this.o.timeScaleOf?.(stack)) ?? this.o.timeScale;
    return this.o.medianMs * Math.exp(this.o.sigma * z) * scale;
  }

  private uniform(): number {
    this.seed = (Math.imul(this.seed, 1664525) + 1013904223) >>> 0;
    return this.seed / 2 ** 32;
  }

  /**
   * Each stack's last `up`: when it began (epoch ms, the bench's clock too) and how long it waited: a
   * purchase's own engine time, and what came before and after it, beside its time to ready.
   */
  readonly lastUp = new Map<string, { startedAt: number; ms: number }>();

  private wait(stack?: string): Promise<void> {
    const ms = this.sampleMs(stack);
    if (stack) this.lastUp.set(stack, { startedAt: Date.now(), ms });
    return new Promise((r) => setTimeout(r, ms));
  }

  async up(req: Parameters<Engine["up"]>[0]) {
    this.calls.up++;
    await this.wait(req.stack);
    const known = this.outs.get(req.stack);
    this.outs.set(req.stack, {
      projectId: known?.projectId ?? `p-${req.stack}`, userId: known?.userId ?? `u-${req.stack}`, userName: req.spec.userName,
      authUrl: req.spec.authUrl, region: req.spec.region, domainId: req.spec.domainId, password: req.password,
    });
    const applied = this.outs.get(req.stack)!;
    this.o.onApplied?.({ projectId: applied.projectId, userId: applied.userId }, req.spec);
    const resourceChanges: Record<string, number> = known ? { update: 1, same: 5 } : { create: 6 };
    return { resourceChanges };
  }
  async destroy(req: Parameters<Engine["destroy"]>[0]) {
    this.calls.destroy++;
    await this.wait();
    const gone = this.outs.get(req.stack);
    if (gone) this.o.onDestroyed?.({ projectId: gone.projectId, userId: gone.userId });
    this.outs.delete(req.stack);
    return { resourceChanges: { delete: 6 } };
  }
  async refresh() {
    this.calls.refresh++;
    await this.wait();
    return { resourceChanges: { same: 6 } };
  }
  async preview() {
    this.calls.preview++;
    return { changeSummary: {}, text: "" };
  }
  async history() {
    this.calls.history++;
    return [];
  }
  async drift(stack: string) {
    this.calls.drift++;
    await this.wait();
    return this.outs.has(stack) ? { differences: [] } : null;
  }
  async breakLocks() {
    this.calls.breakLocks++;
  }
  async adopt() {
    this.calls.adopt++;
    return [];
  }
  async outputs(stack: string) {
    this.calls.outputs++;
    return this.outs.get(stack) ?? null;
  }
}
