import { z } from "zod";
import { UnreadableRecord } from "../domain/errors.js";
import type { Db } from "./db.js";
import { isoUtc } from "./sql.js";

/** A subscription set aside because its stored record cannot be read (issue 31), as /healthz and the fleet view name it. */
export interface UnreadableSubscription {
  subscription: string;
  reason: string;
  /** When it was first noticed (ISO). */
  since: string;
}

/** What a failed read says, in an operator's words: the first field refused and why ("desired.customer.email: …"). */
export function reasonOf(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "it does not have the shape this version reads";
  return `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`;
}

/**
 * Reads one stored row with `schema`; a row it refuses is an `UnreadableRecord` (named with its id), never
 * a bare ZodError that would fail the whole list, run or job it was read for.
 */
export function readRecord<T>(schema: z.ZodType<T>, row: unknown): T | UnreadableRecord {
  const parsed = schema.safeParse(row);
  if (parsed.success) return parsed.data;
  const id = z.object({ id: z.string() }).safeParse(row);
  return new UnreadableRecord(id.success ? id.data.id : "(unknown)", reasonOf(parsed.error));
}

const Row = z.object({ subscription: z.string(), reason: z.string(), since: z.string() });

/**
 * The set-aside records, kept in the database so every replica (and the minute's scan) sees them: as of the
 * row's `updated_at`, so a write to the row (a repair, a new event) brings it back to the scan.
 */
export class UnreadableSubscriptions {
  constructor(
    private readonly db: Db,
    /** Told once per record and reason newly set aside (the service logs it). */
    private readonly onNoticed?: (u: { subscription: string; reason: string }) => void,
  ) {}

  async isolate(db: Db, e: UnreadableRecord): Promise<void> {
    const rows = await db.query(
      `INSERT INTO unreadable_subscriptions (id, reason, row_updated_at)
         SELECT id, $2, updated_at FROM subscriptions WHERE id = $1
       ON CONFLICT (id) DO UPDATE SET reason = EXCLUDED.reason, row_updated_at = EXCLUDED.row_updated_at
         WHERE unreadable_subscriptions.reason <> EXCLUDED.reason OR unreadable_subscriptions.row_updated_at <> EXCLUDED.row_updated_at
       RETURNING id`,
      [e.subscription, e.reason],
    );
    if (rows.length > 0) this.onNoticed?.({ subscription: e.subscription, reason: e.reason });
  }

  /** Those set aside now; each is read again first (`stillUnreadable`), and forgotten once it reads (a repair, a newer version). */
  async list(stillUnreadable: (id: string) => Promise<boolean>): Promise<UnreadableSubscription[]> {
    const rows = (await this.db.query(`SELECT id AS subscription, reason, ${isoUtc("noticed_at", "since")} FROM unreadable_subscriptions ORDER BY id`)).map((r) => Row.parse(r));
    const kept: UnreadableSubscription[] = [];
    for (const r of rows) {
      if (await stillUnreadable(r.subscription)) kept.push(r);
      else await this.db.query("DELETE FROM unreadable_subscriptions WHERE id = $1", [r.subscription]);
    }
    return kept;
  }
}

/** The scan's filter: not set aside as of the row's current version. */
export const NOT_SET_ASIDE = "NOT EXISTS (SELECT 1 FROM unreadable_subscriptions u WHERE u.id = subscriptions.id AND u.row_updated_at = subscriptions.updated_at)";
