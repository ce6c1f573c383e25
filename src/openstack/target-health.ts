import { z } from "zod";
import { AppError } from "../domain/errors.js";
import type { CloudClient, Service } from "./cloud-client.js";

/** The services a tenant's stack is applied through, besides Keystone (its login is the first check). */
const PROBED: readonly Service[] = ["compute", "block-storage", "network"];

/**
 * Whether each target answers: the admin's login there (Keystone) and a GET of each service's endpoint in
 * its region. Only a failure to answer (no connection, a timeout, a 5xx, a login refused) makes a target
 * down; any other answer (a 404 at an endpoint's root) is a service that is up. Each target's verdict is
 * kept `ttlMs`, so that operations and health checks ask a down target at most that often.
 */
export class TargetHealth {
  private readonly seen = new Map<string, { at: number; problem: Promise<string | null> }>();

  constructor(
    private readonly clouds: ReadonlyMap<string, CloudClient>,
    private readonly o: { ttlMs?: number; now?: () => number } = {},
  ) {}

  /** Why `target` cannot be worked on now, or null when it answers. A target without credentials is not probed (null). */
  problem(target: string): Promise<string | null> {
    const cloud = this.clouds.get(target);
    if (!cloud) return Promise.resolve(null);
    const now = (this.o.now ?? Date.now)();
    const hit = this.seen.get(target);
    if (hit && now - hit.at <= (this.o.ttlMs ?? 15_000)) return hit.problem;
    const problem = probe(target, cloud);
    this.seen.set(target, { at: now, problem });
    return problem;
  }

  /** Forget the verdicts (the next question probes again). */
  forget(): void {
    this.seen.clear();
  }

  /** Every target's verdict, by name. */
  async all(): Promise<Record<string, string | null>> {
    const names = [...this.clouds.keys()];
    const problems = await Promise.all(names.map((n) => this.problem(n)));
    return Object.fromEntries(names.map((n, i) => [n, problems[i] ?? null]));
  }
}

async function probe(target: string, cloud: CloudClient): Promise<string | null> {
  for (const service of PROBED) {
    try {
      await cloud.request(service, "GET", "", z.unknown());
    } catch (e) {
      if (e instanceof AppError && e.kind === "upstream") continue; // it answered
      return `target ${target} does not answer: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return null;
}
