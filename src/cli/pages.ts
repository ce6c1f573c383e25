import { type ServiceClient, UsageError } from "./client.js";
import { printable } from "./format.js";

/** What the operator asked of a list: everything (no flags), or one page (`--limit N`, `--cursor C`). */
export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export function pageRequestOf(limit: string | undefined, cursor: string | undefined): PageRequest {
  if (limit !== undefined && !/^[1-9][0-9]*$/.test(limit)) throw new UsageError("--limit needs a number of items (1 to 1000)");
  return { limit: limit === undefined ? undefined : Number(limit), cursor };
}

/** One page asked for: `--limit` or `--cursor` given. */
export const onePage = (p: PageRequest) => p.limit !== undefined || p.cursor !== undefined;

/**
 * Reads a list endpoint: one page when asked for one, else every page, following `nextCursor` to the
 * end (the service answers at most 1000 items per page; a fleet is longer than that).
 */
export async function readList<B extends { nextCursor: string | null }, T>(
  client: ServiceClient, path: string, query: URLSearchParams, itemsOf: (body: B) => T[], p: PageRequest,
): Promise<{ items: T[]; nextCursor: string | null }> {
  const items: T[] = [];
  let cursor = p.cursor;
  for (;;) {
    const q = new URLSearchParams(query);
    if (p.limit !== undefined) q.set("limit", String(p.limit));
    if (cursor !== undefined) q.set("cursor", cursor);
    const body = await client.json<B>("GET", `${path}${q.size ? `?${q}` : ""}`);
    items.push(...itemsOf(body));
    if (onePage(p) || body.nextCursor === null) return { items, nextCursor: body.nextCursor };
    cursor = body.nextCursor;
  }
}

/** The line after one page that tells how to get the next (on stderr: stdout stays the table). */
export function nextPageHint(command: string, nextCursor: string | null): void {
  process.stderr.write(nextCursor === null ? "(last page)\n" : `${printable(`more: tenantctl ${command} --cursor ${nextCursor}`)}\n`);
}
