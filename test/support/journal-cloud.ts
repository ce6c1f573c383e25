import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { TenantSpec } from "../../src/domain/tenant-spec.js";
import type { HistoryEntry } from "../../src/provisioning/engine.js";

/** A stack's state in the journal's backend. */
export interface CloudStack {
  spec: TenantSpec | null;
  deployed: boolean;
  password: string | null;
  projectId: string | null;
  userId: string | null;
  /** CREATE steps a killed `pulumi up` left unfinished (the resources exist in Keystone, not in the state). */
  pendingCreates: string[];
  history: HistoryEntry[];
  /** Updates that changed the cloud (an update with an identical spec and password changes nothing). */
  effectiveChanges: number;
}

/** The crash tests' world, in one JSON file that outlives any killed process: states and Keystone names. */
export interface Journal {
  stacks: Record<string, CloudStack>;
  /** Keystone projects (and their users) by name. */
  keystone: Record<string, { projectId: string; userId: string }>;
}

export function readJournal(file: string): Journal {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Journal) : { stacks: {}, keystone: {} };
}

/** Written atomically (rename), so a process killed while writing leaves the previous version. */
export function writeJournal(file: string, journal: Journal): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(journal, null, 1));
  renameSync(`${file}.tmp`, file);
}

export function emptyStack(): CloudStack {
  return { spec: null, deployed: false, password: null, projectId: null, userId: null, pendingCreates: [], history: [], effectiveChanges: 0 };
}
