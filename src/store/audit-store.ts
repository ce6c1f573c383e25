import { z } from "zod";
import type { Db } from "./db.js";
import { isoUtc, pageOf, readPage, type Page } from "./sql.js";

/** One operator action (or a customer's own, such as a password reset) as the audit trail records it: who, what, on which subscription, how it ended. */
export type AuditEntry = AuditAction & (
  /** The operator's name (the trail shows it as `operator:<name>`). */
  | { operator: string }
  /** Another actor, as the trail shows it: `customer:<subscription>`. */
  | { actor: string }
);
interface AuditAction {
  /** What was done, in dotted words: `subscription.retry`, `billing.run`, `operator.add`. */
  action: string;
  subscriptionId: string | null;
  /** `ok`, or the refusal or failure: its HTTP status and message (`409 subscription 42 is cancelled...`). */
  result: string;
}

/** An item of the trail: an operator's action, or an event a marketplace sent. */
export const AuditItem = z.object({
  /** Unique across the trail: `action:<n>`, `event:<event id>`, `cloudesire:<n>`. */
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  subscriptionId: z.string().nullable(),
  result: z.string(),
});
export type AuditItem = z.infer<typeof AuditItem>;

/** Where a page stops: the last item's time (microseconds), source and key; the next page is older. */
export const AuditKey = z.object({ at: z.iso.datetime(), src: z.enum(["a", "c", "e"]), key: z.string().max(200) }).strict();
export type AuditKey = z.infer<typeof AuditKey>;

const Row = AuditItem.extend({ src: AuditKey.shape.src, key: z.string(), atUs: z.string() });

/** Audit rows' keys sort as text: ids are zero-padded to the width of a bigint. */
const padded = (column: string) => `lpad(${column}::text, 20, '0')`;

/**
 * The audit trail: operators' actions (the `audit` table, written in the transaction of what they
 * changed where there is one), and beside them the marketplaces' events as already stored (the generic
 * webhook's `events`, Cloudesire's `cloudesire_notifications`), read as one list, newest first.
 */
/**
 * A Cloudesire notification's action in the trail: its entity and type when they are ones Cloudesire sends
 * (docs/event-notification.md), never its free text verbatim (a `type` of "operator.add by root" read as an
 * operator's action: issue 31).
 */
const NOTIFICATION_ACTION = `CASE WHEN entity IN ('Cart', 'Invoice', 'ProductVersion', 'Subscription', 'User') THEN entity ELSE 'unrecognised entity' END
  || ' ' || CASE WHEN type IN ('CREATED', 'MODIFIED', 'DELETED') THEN type ELSE 'unrecognised type' END`;

export class AuditStore {
  constructor(private readonly db: Db) {}

  /** Records an operator's action; in `tx` when it belongs to a change made there. */
  async record(entry: AuditEntry, tx: Db = this.db): Promise<void> {
    await tx.query("INSERT INTO audit (actor, action, subscription_id, result) VALUES ($1, $2, $3, $4)", [
      "operator" in entry ? `operator:${entry.operator}` : entry.actor, entry.action, entry.subscriptionId, entry.result,
    ]);
  }

  /**
   * A page, newest first: each source is read by its own index in time order (at most `limit + 1` rows
   * each), and the three are merged. Items at the same instant are ordered by source and key, so the
   * cursor names exactly one place in the list.
   */
  async page(o: { since?: string | undefined; subscription?: string | undefined; after?: AuditKey | undefined; limit: number }): Promise<Page<AuditItem, AuditKey>> {
    const params: unknown[] = [];
    const p = (v: unknown) => `$${params.push(v)}`;
    const since = o.since === undefined ? null : p(o.since);
    const after = o.after === undefined ? null : [p(o.after.at), p(o.after.src), p(o.after.key)];
    const sub = o.subscription === undefined ? null : p(o.subscription);
    const limit = p(o.limit + 1);
    const where = (at: string, src: string, key: string, subscription: string, extra?: string) =>
      [
        since && `${at} >= ${since}::timestamptz`,
        // The plain bound is the index's range (a row comparison with the source in it is only a filter):
        // a page deep in the trail reads from its cursor on, not every newer row first.
        after && `${at} <= ${after[0]}::timestamptz AND (${at}, '${src}', ${key}) < (${after[0]}::timestamptz, ${after[1]}::text, ${after[2]}::text)`,
        sub && `${subscription} = ${sub}`,
        extra,
      ].filter(Boolean).join(" AND ") || "true";
    const rows = await readPage<unknown>(
      this.db,
      `SELECT src, key, ${isoUtc("at", "atUs", "us")}, ${isoUtc("at", "at")}, id, actor, action, "subscriptionId", result FROM (
        (SELECT 'a' AS src, ${padded("id")} AS key, at, 'action:' || id AS id, actor, action, subscription_id AS "subscriptionId", result
         FROM audit WHERE ${where("at", "a", padded("id"), "subscription_id")} ORDER BY at DESC, id DESC LIMIT ${limit})
        UNION ALL
        (SELECT 'e', id, received_at, 'event:' || id, 'marketplace:' || marketplace, type, subscription_id,
           CASE WHEN outcome = 'applied' THEN 'ok' ELSE outcome || coalesce(': ' || reason, '') END
         FROM events WHERE ${where("received_at", "e", "id", "subscription_id")} ORDER BY received_at DESC, id DESC LIMIT ${limit})
        UNION ALL
        (SELECT 'c', ${padded("id")}, received_at, 'cloudesire:' || id, 'marketplace:cloudesire', ${NOTIFICATION_ACTION},
           CASE WHEN entity = 'Subscription' AND ignored IS NULL THEN entity_id END,
           CASE WHEN ignored IS NOT NULL THEN 'ignored: ' || ignored WHEN repeats > 0 THEN 'ok (received ' || (repeats + 1) || ' times)' ELSE 'ok' END
         FROM cloudesire_notifications
         WHERE ${where("received_at", "c", padded("id"), "entity_id", sub ? "entity = 'Subscription' AND ignored IS NULL" : undefined)}
         ORDER BY received_at DESC, id DESC LIMIT ${limit})
      ) u ORDER BY u.at DESC, src DESC, key DESC LIMIT ${limit}`,
      params,
    );
    const parsed = rows.map((r) => Row.parse(r));
    return pageOf(parsed, o.limit, ({ src: _s, key: _k, atUs: _a, ...item }) => item, (r) => ({ at: r.atUs, src: r.src, key: r.key }));
  }
}
