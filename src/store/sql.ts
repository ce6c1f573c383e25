import { z } from "zod";

/**
 * A timestamptz column as the ISO-8601 UTC text the API and the zod records use (`2026-12-01T18:52:35.123Z`):
 * formatted by PostgreSQL, so PGlite and node-postgres give the same string (their Date parsing differs).
 */
export const isoUtc = (column: string, as?: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')${as ? ` AS "${as}"` : ""}`;

/** A json(b) value as a driver returns it: node-postgres parses it, PGlite may hand over its text. */
export const jsonColumn = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (typeof v === "string" ? JSON.parse(v) : v), schema);
