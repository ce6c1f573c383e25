import { DriftRecord, fingerprintOf, type DriftDifference, type DriftState } from "../domain/drift.js";
import type { DriftFindings } from "../provisioning/ports.js";
import type { Db } from "./db.js";
import { isoUtc, jsonColumn, pageOf, readPage, whereOf, type Page } from "./sql.js";

const COLUMNS = `subscription_id AS "subscriptionId", state, differences, error, ${isoUtc("checked_at", "checkedAt")}, ${isoUtc("accepted_at", "acceptedAt")}`;

/** A row as a driver returns it (the differences may come as text). */
const DriftRow = DriftRecord.extend({ differences: jsonColumn(DriftRecord.shape.differences) });
const parseRow = (row: unknown): DriftRecord => DriftRow.parse(row);

/** The last drift check of each stack, and what operators accepted. */
export class DriftStore implements DriftFindings {
  constructor(private readonly db: Db) {}

  async record(subscriptionId: string, differences: DriftDifference[]): Promise<DriftRecord> {
    const fingerprint = fingerprintOf(differences);
    const [row] = await this.db.query(
      `INSERT INTO drift (subscription_id, checked_at, state, differences, fingerprint, error)
       VALUES ($1, now(), CASE WHEN $3::text IS NULL THEN 'in_sync' ELSE 'drifted' END, $2, $3, NULL)
       ON CONFLICT (subscription_id) DO UPDATE SET checked_at = now(), differences = $2, fingerprint = $3, error = NULL,
         state = CASE WHEN $3::text IS NULL THEN 'in_sync'
                      WHEN drift.accepted_fingerprint = $3 THEN 'accepted' ELSE 'drifted' END
       RETURNING ${COLUMNS}`,
      [subscriptionId, JSON.stringify(differences), fingerprint],
    );
    return parseRow(row);
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
    return row ? parseRow(row) : null;
  }

  async get(subscriptionId: string): Promise<DriftRecord | null> {
    const [row] = await this.db.query(`SELECT ${COLUMNS} FROM drift WHERE subscription_id = $1`, [subscriptionId]);
    return row ? parseRow(row) : null;
  }

  async list(filter: { state?: DriftState | undefined } = {}): Promise<DriftRecord[]> {
    const rows = filter.state
      ? await this.db.query(`SELECT ${COLUMNS} FROM drift WHERE state = $1 ORDER BY subscription_id`, [filter.state])
      : await this.db.query(`SELECT ${COLUMNS} FROM drift ORDER BY subscription_id`);
    return rows.map(parseRow);
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
