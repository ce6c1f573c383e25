import { createHash } from "node:crypto";
import { z } from "zod";
import { DriftDifference, DriftRecord, type DriftState } from "../domain/drift.js";
import type { Db } from "./db.js";
import { pageOf, readPage, whereOf, type Page } from "./sql.js";

// Moved to the domain (issue 15); re-exported while callers move.
export { DriftDifference, DriftRecord, DriftState } from "../domain/drift.js";

const COLUMNS = `subscription_id AS "subscriptionId", state, differences, error,
  to_char(checked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "checkedAt",
  to_char(accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "acceptedAt"`;

/** Order-independent identity of a set of differences: accepting them accepts exactly these. */
function fingerprintOf(differences: Array<z.infer<typeof DriftDifference>>): string {
  const canonical = differences.map((d) => `${d.resource}|${d.type}|${d.change}|${[...d.properties].sort().join(",")}`).sort();
  return createHash("sha256").update(canonical.join("\n")).digest("hex");
}

/** The last drift check of each stack, and what operators accepted. */
export class DriftStore {
  constructor(private readonly db: Db) {}

  async record(subscriptionId: string, differences: Array<z.infer<typeof DriftDifference>>): Promise<DriftRecord> {
    const fingerprint = differences.length === 0 ? null : fingerprintOf(differences);
    const [row] = await this.db.query(
      `INSERT INTO drift (subscription_id, checked_at, state, differences, fingerprint, error)
       VALUES ($1, now(), CASE WHEN $3::text IS NULL THEN 'in_sync' ELSE 'drifted' END, $2, $3, NULL)
       ON CONFLICT (subscription_id) DO UPDATE SET checked_at = now(), differences = $2, fingerprint = $3, error = NULL,
         state = CASE WHEN $3::text IS NULL THEN 'in_sync'
                      WHEN drift.accepted_fingerprint = $3 THEN 'accepted' ELSE 'drifted' END
       RETURNING ${COLUMNS}`,
      [subscriptionId, JSON.stringify(differences), fingerprint],
    );
    return DriftRecord.parse(row);
  }

  async recordFailure(subscriptionId: string, error: string): Promise<void> {
    await this.db.query(
      `INSERT INTO drift (subscription_id, checked_at, state, error) VALUES ($1, now(), 'failed', $2)
       ON CONFLICT (subscription_id) DO UPDATE SET checked_at = now(), state = 'failed', error = $2`,
      [subscriptionId, error],
    );
  }

  /** Accepts the differences found by the last check; null if there is nothing drifted to accept. */
  async accept(subscriptionId: string): Promise<DriftRecord | null> {
    const [row] = await this.db.query(
      `UPDATE drift SET state = 'accepted', accepted_fingerprint = fingerprint, accepted_at = now()
       WHERE subscription_id = $1 AND state IN ('drifted', 'accepted') RETURNING ${COLUMNS}`,
      [subscriptionId],
    );
    return row ? DriftRecord.parse(row) : null;
  }

  async get(subscriptionId: string): Promise<DriftRecord | null> {
    const [row] = await this.db.query(`SELECT ${COLUMNS} FROM drift WHERE subscription_id = $1`, [subscriptionId]);
    return row ? DriftRecord.parse(row) : null;
  }

  async list(filter: { state?: DriftState | undefined } = {}): Promise<DriftRecord[]> {
    const rows = filter.state
      ? await this.db.query(`SELECT ${COLUMNS} FROM drift WHERE state = $1 ORDER BY subscription_id`, [filter.state])
      : await this.db.query(`SELECT ${COLUMNS} FROM drift ORDER BY subscription_id`);
    return rows.map((r) => DriftRecord.parse(r));
  }

  /** A page by subscription id, after `after` (keyset; drift_by_state when filtered). */
  async page(o: { after?: string | undefined; limit: number; state?: DriftState | undefined }): Promise<Page<DriftRecord, string>> {
    const params: unknown[] = [];
    const where = whereOf(params, [
      o.after === undefined ? undefined : ["subscription_id > ?", o.after],
      o.state ? ["state = ?", o.state] : undefined,
    ]);
    const rows = await readPage<{ subscriptionId: string }>(this.db, `SELECT ${COLUMNS} FROM drift ${where} ORDER BY subscription_id LIMIT $${params.push(o.limit + 1)}`, params);
    return pageOf(rows, o.limit, (r) => DriftRecord.parse(r), (r) => r.subscriptionId);
  }

  async driftedCount(): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM drift WHERE state = 'drifted'`);
    return Number(row?.n ?? 0);
  }
}
