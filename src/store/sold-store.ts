import { z } from "zod";
import type { Amounts } from "../domain/capacity.js";
import type { SoldLedger } from "../provisioning/ports.js";
import type { Db } from "./db.js";

const SoldRow = z.object({ target: z.string(), vcpu: z.coerce.number(), ram_gb: z.coerce.number(), disk_gb: z.coerce.number() });

/**
 * What is sold per target, summed by the database from the desired states in one query (an order's
 * capacity check reads no project's quota): every prepaid plan of a subscription not cancelled. A
 * suspended tenant keeps its quotas, so it stays sold.
 */
export class SoldStore implements SoldLedger {
  constructor(private readonly db: Db) {}

  async soldByTarget(defaultTarget: string, o: { except?: string; target?: string; withoutWaiting?: boolean } = {}): Promise<Map<string, Amounts>> {
    const rows = await this.db.query(
      `SELECT coalesce(desired->'plan'->>'target', $1) AS target,
              coalesce(sum((desired->'plan'->>'cores')::bigint), 0) AS vcpu,
              coalesce(sum((desired->'plan'->>'ramGb')::bigint), 0) AS ram_gb,
              coalesce(sum((desired->'plan'->>'diskGb')::bigint), 0) AS disk_gb
         FROM subscriptions
        WHERE desired->'plan'->>'model' = 'prepaid' AND desired->>'status' <> 'cancelled'
          AND ($2::text IS NULL OR id <> $2)
          AND ($3::text IS NULL OR coalesce(desired->'plan'->>'target', $1) = $3)
          AND (NOT $4::boolean OR phase <> 'waiting')
        GROUP BY 1`,
      [defaultTarget, o.except ?? null, o.target ?? null, o.withoutWaiting ?? false],
    );
    return new Map(rows.map((r) => {
      const s = SoldRow.parse(r);
      return [s.target, { VCPU: s.vcpu, MEMORY_MB: s.ram_gb * 1024, DISK_GB: s.disk_gb }] as const;
    }));
  }
}

/** Subscriptions not cancelled per target and phase, for the per-target gauges (the default target's name for plans naming none). */
export async function phasesByTarget(db: Db, defaultTarget: string): Promise<Array<{ target: string; phase: string; count: number }>> {
  const rows = await db.query<{ target: string; phase: string; n: number | string }>(
    `SELECT coalesce(desired->'plan'->>'target', $1) AS target, phase, count(*) AS n FROM subscriptions
      WHERE desired->>'status' <> 'cancelled' GROUP BY 1, 2 ORDER BY 1, 2`,
    [defaultTarget],
  );
  return rows.map((r) => ({ target: r.target, phase: r.phase, count: Number(r.n) }));
}
