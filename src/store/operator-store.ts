import { z } from "zod";
import { OperatorIdentity, Role } from "../domain/operator.js";
import type { Db } from "./db.js";
import { isoUtc } from "./sql.js";

export const OperatorRecord = z.object({ name: z.string(), role: Role, createdAt: z.string(), revokedAt: z.string().nullable() });
export type OperatorRecord = z.infer<typeof OperatorRecord>;

const COLUMNS = `name, role, ${isoUtc("created_at", "createdAt")}, ${isoUtc("revoked_at", "revokedAt")}`;

/** A time of the service's clock (milliseconds) as PostgreSQL takes it. */
const at = (ms: number) => new Date(ms).toISOString();

/** What is written with a change, in its transaction (the audit trail's record of it). */
export type InTransaction = (tx: Db, result: string) => Promise<void>;

/**
 * Named operators and their console sessions. Only SHA-256 hashes of tokens and session ids are kept:
 * a copy of the database opens nothing. Adding and revoking are recorded (`inTx`) in the same transaction.
 */
export class OperatorStore {
  constructor(private readonly db: Db) {}

  /** Adds an operator; null if the name is taken (by a current or a revoked operator). */
  async add(o: { name: string; role: Role; tokenHash: string }, inTx: InTransaction): Promise<OperatorRecord | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query(`INSERT INTO operators (name, role, token_hash) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`, [o.name, o.role, o.tokenHash]);
      if (!row) return null;
      await inTx(tx, `ok: ${o.name} added as ${o.role}`);
      return OperatorRecord.parse(row);
    });
  }

  async list(): Promise<OperatorRecord[]> {
    return (await this.db.query(`SELECT ${COLUMNS} FROM operators ORDER BY name`)).map((r) => OperatorRecord.parse(r));
  }

  /**
   * Revokes an operator: its token stops working and its sessions end, now. Null if there is no such
   * operator; a revoked one is answered as it is (revoked once).
   */
  async revoke(name: string, inTx: InTransaction): Promise<OperatorRecord | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query(
        `UPDATE operators SET revoked_at = coalesce(revoked_at, now()) WHERE name = $1 RETURNING ${COLUMNS}, token_hash AS "tokenHash"`,
        [name],
      );
      if (!row) return null;
      await tx.query("DELETE FROM operator_sessions WHERE token_hash = $1", [(row as { tokenHash: string }).tokenHash]);
      await inTx(tx, `ok: ${name} revoked`);
      return OperatorRecord.parse(row);
    });
  }

  /** The operator a token (by its hash) belongs to, unless revoked. */
  async byTokenHash(tokenHash: string): Promise<OperatorIdentity | null> {
    const [row] = await this.db.query("SELECT name, role FROM operators WHERE token_hash = $1 AND revoked_at IS NULL", [tokenHash]);
    return row ? OperatorIdentity.parse(row) : null;
  }

  /** A console session opened with the token of hash `tokenHash`; sessions idle since before `expiredBefore` are dropped. */
  async openSession(s: { idHash: string; tokenHash: string; now: number; expiredBefore: number }): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query("DELETE FROM operator_sessions WHERE last_used_at < $1", [at(s.expiredBefore)]);
      await tx.query("INSERT INTO operator_sessions (id_hash, token_hash, created_at, last_used_at) VALUES ($1, $2, $3, $3)", [s.idHash, s.tokenHash, at(s.now)]);
    });
  }

  /**
   * Who a session is, and its use recorded now (one statement): none if it is unknown, idle since before
   * `expiredBefore`, or its operator was revoked. Root's sessions hold while OPERATOR_TOKEN is the
   * token they were opened with (`rootHash`).
   */
  async useSession(s: { idHash: string; now: number; expiredBefore: number; rootHash: string; rootName: string }): Promise<OperatorIdentity | null> {
    const [row] = await this.db.query(
      `WITH who AS (
         SELECT s.id_hash, CASE WHEN s.token_hash = $4 THEN $5 ELSE o.name END AS name, CASE WHEN s.token_hash = $4 THEN 'admin' ELSE o.role END AS role
         FROM operator_sessions s LEFT JOIN operators o ON o.token_hash = s.token_hash AND o.revoked_at IS NULL
         WHERE s.id_hash = $1 AND s.last_used_at >= $3 AND (s.token_hash = $4 OR o.name IS NOT NULL)
       ), touched AS (
         UPDATE operator_sessions SET last_used_at = $2 WHERE id_hash IN (SELECT id_hash FROM who)
       )
       SELECT name, role FROM who`,
      [s.idHash, at(s.now), at(s.expiredBefore), s.rootHash, s.rootName],
    );
    return row ? OperatorIdentity.parse(row) : null;
  }

  async closeSession(idHash: string): Promise<void> {
    await this.db.query("DELETE FROM operator_sessions WHERE id_hash = $1", [idHash]);
  }
}
