import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { hostname } from "node:os";
import type { TenantSpec } from "../../src/domain/tenant-spec.js";
import { EngineFailure, type Engine, type HistoryEntry, type OperationSummary, type StackChange, type StackOutputs } from "../../src/provisioning/engine.js";

/** Where a crash test kills the service process (SIGKILL, no cleanup), if anywhere. */
export type CrashPoint = "before-202" | "after-202" | "during-engine" | "after-engine" | undefined;

interface CloudStack {
  spec: TenantSpec | null;
  deployed: boolean;
  /** Like Pulumi's lock file: who is updating the stack right now. */
  lock: { host: string; pid: number } | null;
  history: HistoryEntry[];
  /** Updates that changed the cloud (an update with an identical spec changes nothing). */
  effectiveChanges: number;
}

/**
 * An engine double whose "cloud" is a JSON file written synchronously, so it outlives a process killed
 * with SIGKILL, and which locks stacks during updates as Pulumi does (a killed update leaves its lock).
 * It can kill its own process at a chosen point of an update. Only for crash tests; not the Pulumi CLI.
 */
export class JournalEngine implements Engine {
  constructor(private readonly file: string, private readonly crashAt: CrashPoint) {}

  private read(): Record<string, CloudStack> {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, "utf8")) as Record<string, CloudStack>) : {};
  }

  private write(cloud: Record<string, CloudStack>): void {
    writeFileSync(this.file, JSON.stringify(cloud, null, 1));
  }

  private async change(req: { stack: string; message: string }, apply: (s: CloudStack) => void, kind: string): Promise<OperationSummary> {
    if (this.crashAt === "after-202") {
      await new Promise((r) => setTimeout(r, 300)); // the 202 is on the wire: now die before doing anything
      process.kill(process.pid, "SIGKILL");
    }
    const cloud = this.read();
    const s = (cloud[req.stack] ??= { spec: null, deployed: false, lock: null, history: [], effectiveChanges: 0 });
    if (s.lock) {
      throw new EngineFailure(
        `the stack is currently locked by 1 lock(s): created by tenants@${s.lock.host} (pid ${s.lock.pid}) at 2026-11-25T10:00:00Z`,
        true, s.lock,
      );
    }
    s.lock = { host: hostname(), pid: process.pid };
    this.write(cloud);
    if (this.crashAt === "during-engine") process.kill(process.pid, "SIGKILL");
    const before = JSON.stringify([s.spec, s.deployed]);
    apply(s);
    const changed = before !== JSON.stringify([s.spec, s.deployed]);
    if (changed) s.effectiveChanges++;
    const now = new Date().toISOString();
    s.history.push({ version: s.history.length + 1, kind, message: req.message, result: "succeeded", startTime: now, endTime: now, resourceChanges: changed ? { update: 1 } : { same: 6 } });
    s.lock = null;
    this.write(cloud);
    if (this.crashAt === "after-engine") process.kill(process.pid, "SIGKILL");
    return { resourceChanges: changed ? { update: 1 } : { same: 6 } };
  }

  up(req: StackChange): Promise<OperationSummary> {
    return this.change(req, (s) => {
      s.spec = req.spec;
      s.deployed = true;
    }, "update");
  }

  destroy(req: { stack: string; message: string }): Promise<OperationSummary> {
    return this.change(req, (s) => {
      s.deployed = false;
    }, "destroy");
  }

  async cancel(stack: string): Promise<void> {
    const cloud = this.read();
    const s = cloud[stack];
    if (s) s.lock = null;
    this.write(cloud);
  }

  async outputs(stack: string): Promise<StackOutputs | null> {
    const s = this.read()[stack];
    if (!s?.deployed || !s.spec) return null;
    return { projectId: `p-${stack}`, userId: `u-${stack}`, userName: s.spec.userName, authUrl: s.spec.authUrl, region: s.spec.region, domainId: s.spec.domainId, password: "journal-password" };
  }

  async history(stack: string): Promise<HistoryEntry[]> {
    return [...(this.read()[stack]?.history ?? [])].reverse();
  }

  async preview(): Promise<{ changeSummary: Record<string, number>; text: string }> {
    return { changeSummary: {}, text: "" };
  }

  async refresh(): Promise<OperationSummary> {
    return { resourceChanges: {} };
  }

  async drift(): Promise<{ differences: [] }> {
    return { differences: [] };
  }
}

/** The cloud as a crash test reads it after the fact. */
export function readCloud(file: string): Record<string, CloudStack> {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, CloudStack>) : {};
}
