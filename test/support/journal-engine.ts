import type { StackLock } from "../../src/provisioning/stack-lock.js";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { TenantSpec } from "../../src/domain/tenant-spec.js";
import {
  EngineFailure,
  lockedFailure,
  type Engine,
  type HistoryEntry,
  type Leftovers,
  type OperationSummary,
  type StackChange,
} from "../../src/provisioning/engine.js";
import type { StackOutputs } from "../../src/domain/lifecycle.js";
import type { TenantGuard } from "../../src/provisioning/tenant-guard.js";
import { readJournal, writeJournal, type Journal } from "./journal-cloud.js";
import { lockedMessage, noteRefused, removeNamedLocks } from "./pulumi-locks.js";

/**
 * Where a crash test kills the service process (SIGKILL, no cleanup), if anywhere. During the engine, the
 * `pulumi` stand-in either survives the service (it finishes its update and unlocks, as the real CLI does
 * when only its parent dies) or dies with it (its lock and pending creates are left behind).
 */
export type CrashPoint = "before-202" | "after-202" | "during-engine" | "during-engine-cli-dies" | "after-engine" | undefined;

/**
 * An engine double for crash tests whose world (stack states, Keystone names) is a JSON file outliving any
 * killed process, and whose updates run in a child process (test/support/journal-pulumi.ts) that locks the
 * stack as the Pulumi CLI does: lock files in a backend directory naming the child's pid and host. It is
 * not the Pulumi CLI and applies nothing real.
 */
export class JournalEngine implements Engine {
  private readonly backendDir: string;

  constructor(private readonly file: string, private readonly crashAt: CrashPoint) {
    this.backendDir = join(dirname(file), "pulumi-backend");
    mkdirSync(this.backendDir, { recursive: true });
  }

  private read(): Journal {
    return readJournal(this.file);
  }

  /** One `pulumi` run in its own process; this process dies where the crash test asked. */
  private async change(op: "up" | "destroy", req: { stack: string; message: string; spec?: TenantSpec; password?: string }): Promise<OperationSummary> {
    if (this.crashAt === "after-202") {
      await new Promise((r) => setTimeout(r, 300)); // the 202 is on the wire: now die before doing anything
      process.kill(process.pid, "SIGKILL");
    }
    const mode = this.crashAt === "during-engine" ? "survive" : this.crashAt === "during-engine-cli-dies" ? "die" : "normal";
    const child = spawn(process.execPath, ["--import", "tsx", "test/support/journal-pulumi.ts", this.file, this.backendDir, req.stack, op], {
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group: a kill of the service does not reach it (nor does the test runner's).
      detached: true,
    });
    child.stdin.end(JSON.stringify({ spec: req.spec, password: req.password, message: req.message, mode }));
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout });
    let summary: Record<string, number> = {};
    lines.on("line", (line) => {
      if (line === "locked") {
        if (mode !== "normal") process.kill(process.pid, "SIGKILL");
        return;
      }
      summary = JSON.parse(line) as Record<string, number>;
    });
    const code = await new Promise<number | null>((r) => child.on("close", r));
    if (code === 0) {
      if (this.crashAt === "after-engine") process.kill(process.pid, "SIGKILL");
      return { resourceChanges: summary };
    }
    if (/currently locked/.test(stderr)) throw lockedFailure(stderr);
    throw new EngineFailure(stderr.trim() || `pulumi ${op} exited with ${code}`, false);
  }

  up(req: StackChange): Promise<OperationSummary> {
    return this.change("up", req);
  }

  destroy(req: { stack: string; message: string }): Promise<OperationSummary> {
    return this.change("destroy", req);
  }

  async adopt(req: { stack: string; found: Leftovers }): Promise<string[]> {
    // `refresh --clear-pending-creates` and `import` lock the stack like any update.
    const locked = lockedMessage(this.backendDir, req.stack);
    if (locked) {
      noteRefused(this.backendDir, req.stack);
      throw lockedFailure(locked);
    }
    const journal = this.read();
    const s = journal.stacks[req.stack];
    if (!s) return [];
    s.pendingCreates = [];
    const adopted: string[] = [];
    if (req.found.projectId && !s.projectId) {
      s.projectId = req.found.projectId;
      adopted.push(`project ${s.projectId}`);
    }
    if (req.found.userId && !s.userId) {
      s.userId = req.found.userId;
      adopted.push(`user ${s.userId}`);
    }
    writeJournal(this.file, journal);
    return adopted;
  }

  async breakLocks(_stack: string, locks: StackLock[]): Promise<void> {
    removeNamedLocks(locks);
  }

  async outputs(stack: string): Promise<StackOutputs | null> {
    const s = this.read().stacks[stack];
    if (!s?.deployed || !s.spec || !s.password || !s.projectId || !s.userId) return null;
    return { projectId: s.projectId, userId: s.userId, userName: s.spec.userName, authUrl: s.spec.authUrl, region: s.spec.region, domainId: s.spec.domainId, password: s.password };
  }

  async history(stack: string): Promise<HistoryEntry[]> {
    return [...(this.read().stacks[stack]?.history ?? [])].reverse();
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

/**
 * The tenant guard of the crash tests' world: Keystone lookups answered from the journal (the real lookup is
 * tested against the real Keystone); nothing to refuse or purge.
 */
export function journalGuard(file: string): TenantGuard {
  return {
    beforeUp: async () => null,
    beforeDestroy: async () => null,
    leftoversOf: async (spec) => {
      const found = readJournal(file).keystone[spec.projectName];
      return found ? { projectId: found.projectId, userId: found.userId } : {};
    },
  };
}

/** The world as a crash test reads it after the fact. */
export function readCloud(file: string): Journal["stacks"] {
  return readJournal(file).stacks;
}
export { readJournal };
