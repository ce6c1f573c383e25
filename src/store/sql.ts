import { z } from "zod";
import type { Db } from "./db.js";

/**
 * A timestamptz column as the ISO-8601 UTC text the API and the zod records use (`2026-12-01T18:52:35.123Z`):
 * formatted by PostgreSQL, so PGlite and node-postgres give the same string (their Date parsing differs).
 */
export const isoUtc = (column: string, as?: string, precision: "ms" | "us" = "ms"): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.${precision === "us" ? "US" : "MS"}"Z"')${as ? ` AS "${as}"` : ""}`;

/** A json(b) value as a driver returns it: node-postgres parses it, PGlite may hand over its text. */
export const jsonColumn = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (typeof v === "string" ? JSON.parse(v) : v), schema);

/** One page of a list read by key (`WHERE key > $after ORDER BY key LIMIT $limit + 1`): the items and, when more follow, the last one's key. */
export interface Page<T, K> {
  items: T[];
  next: K | null;
}

/** The extra row of a keyset read only tells that another page follows: it is not part of this one. */
export function pageOf<R, T, K>(rows: readonly R[], limit: number, item: (row: R) => T, key: (row: R) => K): Page<T, K> {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  return { items: kept.map(item), next: rows.length > limit && last !== undefined ? key(last) : null };
}

/**
 * The `WHERE` of a filtered read from the conditions that apply (`undefined` ones are left out): each `?`
 * becomes the next parameter, appended to `params`. Only the conditions used are in the SQL, so the
 * planner sees the statement the index was made for (not `$1 IS NULL OR ...`).
 */
export function whereOf(params: unknown[], conditions: ReadonlyArray<readonly [sql: string, ...values: unknown[]] | undefined>): string {
  const used = conditions.filter((c) => c !== undefined);
  if (used.length === 0) return "";
  return `WHERE ${used.map(([sql, ...values]) => values.reduce<string>((s, v) => s.replace("?", `$${params.push(v)}`), sql)).join(" AND ")}`;
}

/**
 * A keyset page read (`... ORDER BY key LIMIT n + 1`), planned to walk the filter's index in key order
 * and stop after n + 1 rows. The embedded store never has statistics (PGlite runs PostgreSQL in single-user
 * mode: no autovacuum, so no ANALYZE), and without them the planner takes 0.5% of the rows for any
 * equality and prefers a bitmap scan plus a sort, which reads every matching row first: measured on
 * 10,000 subscriptions, phase=ready (90% of them) took 36 ms that way and 0.4 ms in index order (EXPLAIN
 * ANALYZE, bench/pages.ts prints the plans). So bitmap scans are off for this one statement.
 */
export function readPage<R>(db: Db, sql: string, params: unknown[]): Promise<R[]> {
  return db.transaction(async (tx) => {
    await tx.exec("SET LOCAL enable_bitmapscan = off");
    return tx.query<R>(sql, params);
  });
}
