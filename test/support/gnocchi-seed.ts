import { randomUUID } from "node:crypto";
import { GnocchiClient } from "../../src/metering/gnocchi-client.js";
import type { Meters } from "../../src/domain/billing.js";
import { adminCredentials, testcloud } from "./testcloud.js";

/** An hourly archive policy with the aggregations metering reads; resources of the meters' types. */
export const SEED_POLICY = "tenants-hourly";

export function adminGnocchi(): GnocchiClient {
  return new GnocchiClient({ url: testcloud().GNOCCHI_URL, auth: { kind: "keystone", credentials: adminCredentials() } });
}

/**
 * Test-only seeding of the real Gnocchi, as Ceilometer would fill it: resource types, resources carrying
 * the Keystone project id, and measures posted in batches.
 */
export class GnocchiSeeder {
  constructor(readonly gnocchi: GnocchiClient = adminGnocchi()) {}

  async prepare(meters: Meters): Promise<void> {
    await this.ignoreConflict(() =>
      this.gnocchi.request("POST", "/v1/archive_policy", {
        name: SEED_POLICY, back_window: 0,
        definition: [{ granularity: "1h", timespan: "800 days" }],
        aggregation_methods: ["mean", "max", "last", "sum"],
      }),
    );
    for (const type of new Set(Object.values(meters).map((m) => m.resourceType))) {
      if (type === "generic") continue;
      await this.ignoreConflict(() => this.gnocchi.request("POST", "/v1/resource_type", { name: type, attributes: {} }));
    }
  }

  /** Creates a resource of `type` in `projectId` with the given metrics; returns its id. */
  async resource(type: string, projectId: string, metrics: string[]): Promise<string> {
    const id = randomUUID();
    await this.gnocchi.request("POST", `/v1/resource/${encodeURIComponent(type)}`, {
      id, project_id: projectId,
      metrics: Object.fromEntries(metrics.map((m) => [m, { archive_policy_name: SEED_POLICY }])),
    });
    return id;
  }

  /** One batch: { resourceId: { metric: [[isoTime, value], ...] } }. */
  async measures(batch: Record<string, Record<string, Array<[string, number]>>>): Promise<void> {
    const body = Object.fromEntries(
      Object.entries(batch).map(([rid, metrics]) => [rid, Object.fromEntries(Object.entries(metrics).map(([m, pts]) => [m, pts.map(([timestamp, value]) => ({ timestamp, value }))]))]),
    );
    await this.gnocchi.request("POST", "/v1/batch/resources/metrics/measures", body);
  }

  /** Waits until metricd has processed every posted measure (GET /v1/status backlog is zero). */
  async processed(timeoutMs = 600_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = (await this.gnocchi.request("GET", "/v1/status")) as { storage: { summary: { measures: number } } };
      if (status.storage.summary.measures === 0) return;
      if (Date.now() > deadline) throw new Error(`gnocchi-metricd still has ${status.storage.summary.measures} measures to process`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async ignoreConflict(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof Error && /answered 409/.test(e.message))) throw e;
    }
  }
}

/** Hourly timestamps [from, to), ISO. */
export function hours(fromIso: string, toIso: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(fromIso); t < Date.parse(toIso); t += 3_600_000) out.push(new Date(t).toISOString());
  return out;
}
