import { z } from "@hono/zod-openapi";
import { invalid } from "../domain/errors.js";

/**
 * Pages of the list endpoints: `limit` and `cursor` in, `nextCursor` out (null on the last page). Keyset
 * pagination, never OFFSET: a page costs the same wherever it is, and a row whose filter field changes
 * between two pages is neither repeated nor makes another one skipped (rows keep their key, only the
 * rows after the cursor's key are read).
 *
 * The cursor is opaque to clients: base64url of `{"l": list, "k": last key, "f": filter}`. It names the
 * list and the filter it was made for, so one used with another filter (or on another list) is refused
 * with a reason instead of answering a page that is silently wrong.
 */

export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

/** The query parameters every list endpoint takes (merged into its filter's query schema). */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE)
    .openapi({ param: { name: "limit", in: "query" }, description: `items per page, 1 to ${MAX_PAGE}`, example: DEFAULT_PAGE }),
  // At most 1024 characters: a cursor given out is a few hundred, and one longer than that, sent as a
  // query of 4-byte characters, still fits Node's 16 KB of request headers (beyond: a bare 431).
  // The pattern is checked by `decode` (its 422 says what is wrong with the cursor), documented here.
  cursor: z.string().min(1).max(1024).optional()
    .openapi({ param: { name: "cursor", in: "query" }, pattern: "^[A-Za-z0-9_-]+$", description: "the `nextCursor` of the previous page (base64url), with the same filter" }),
});

/** How a list route documents its pages and its refusals in /openapi.json. */
export const PAGED = `One page (\`limit\`, default ${DEFAULT_PAGE}, at most ${MAX_PAGE}); \`nextCursor\` is the \`cursor\` of the next one, with the same filter (null on the last page).`;
export const PAGE_REFUSED = `limit outside 1..${MAX_PAGE}, or a cursor that is garbled, of another list, or made for another filter`;

/** What every list answer adds to its items. */
export const NextCursor = z.string().nullable().openapi({ description: "pass as `cursor` (with the same filter) for the next page; null on the last page" });

/** A filter as a cursor records it: only the fields set, in a fixed order. */
type Filter = Record<string, string | undefined>;
const canonical = (f: Filter): Record<string, string> =>
  Object.fromEntries(Object.entries(f).filter((e): e is [string, string] => e[1] !== undefined).sort(([a], [b]) => a.localeCompare(b)));
const describe = (f: Record<string, string>) => Object.entries(f).map(([k, v]) => `${k}=${v}`).join("&") || "no filter";

const Envelope = z.object({ l: z.string(), k: z.unknown(), f: z.record(z.string(), z.string()) }).strict();

/**
 * One list's cursors: `decode` turns a client's cursor back into the key to read after (throwing a 422
 * with the reason for a garbled one, one of another list, or one made for another filter), `next` makes
 * the next page's cursor from a store's page (null when it was the last).
 */
export function cursorsOf<K extends z.ZodTypeAny>(list: string, key: K) {
  return {
    next(page: { next: z.output<K> | null }, filter: Filter): string | null {
      if (page.next === null) return null;
      return Buffer.from(JSON.stringify({ l: list, k: page.next, f: canonical(filter) })).toString("base64url");
    },
    decode(cursor: string | undefined, filter: Filter): z.output<K> | undefined {
      if (cursor === undefined) return undefined;
      const refuse = (why: string) => invalid(`cursor refused: ${why}`, [{ path: "cursor", message: why }]);
      let parsed: z.infer<typeof Envelope>;
      try {
        if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error("not base64url");
        parsed = Envelope.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
      } catch {
        throw refuse("not a cursor this service gave out (pass nextCursor back unchanged)");
      }
      if (parsed.l !== list) throw refuse(`a cursor of ${parsed.l}, not of ${list}`);
      const made = describe(parsed.f);
      const now = describe(canonical(filter));
      if (made !== now) throw refuse(`made for ${made}, used with ${now}: keep the filter while paging, or start again without a cursor`);
      const k = key.safeParse(parsed.k);
      if (!k.success) throw refuse("not a cursor this service gave out (pass nextCursor back unchanged)");
      return k.data as z.output<K>;
    },
  };
}
