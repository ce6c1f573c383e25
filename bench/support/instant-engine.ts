import type { StackOutputs } from "../../src/domain/lifecycle.js";
import type { Engine } from "../../src/provisioning/engine.js";

/** Returns at once: the time a reconcile takes around it is the service's own overhead. */
export class InstantEngine implements Engine {
  engineMs = 0;
  private readonly outs = new Map<string, StackOutputs>();
  /** `delayMs` > 0: each update takes that long (a real `pulumi up` takes seconds), without using CPU. */
  constructor(private readonly delayMs = 0) {}
  async up(req: Parameters<Engine["up"]>[0]) {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const t0 = performance.now();
    this.outs.set(req.stack, { projectId: "p", userId: "u", userName: req.spec.userName, authUrl: req.spec.authUrl, region: req.spec.region, domainId: req.spec.domainId, password: req.password });
    this.engineMs += performance.now() - t0;
    return { resourceChanges: { create: 6 } };
  }
  async destroy() { return { resourceChanges: {} }; }
  async refresh() { return { resourceChanges: {} }; }
  async preview() { return { changeSummary: {}, text: "" }; }
  async history() { return []; }
  async drift() { return { differences: [] }; }
  async breakLocks() {}
  async adopt() { return []; }
  async outputs(stack: string) { return this.outs.get(stack) ?? null; }
}

