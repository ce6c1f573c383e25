import type { z } from "zod";

/**
 * What a received JSON document must be for the database to keep it: PostgreSQL refuses a NUL in `text`
 * and `\u0000` in `jsonb` ("unsupported Unicode escape sequence"), and a lone UTF-16 surrogate in `jsonb`
 * ("Unicode low surrogate must follow a high surrogate"), so such input would be a 500 the sender retries
 * for ever. Nesting is bounded too: `JSON.stringify` and every recursive reader after it overflow the
 * stack somewhere past a few thousand levels, while any document we keep needs a handful.
 */
export const MAX_JSON_DEPTH = 32;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a text cannot be stored, or null. */
export function unstorableText(text: string): string | null {
  if (text.includes("\u0000")) return "contains a NUL character (U+0000), which cannot be stored";
  if (LONE_SURROGATE.test(text)) return "contains a lone UTF-16 surrogate: not Unicode text";
  return null;
}

const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Text from another system made storable, with what was done to it (for an operator to read): NULs
 * removed, lone surrogates replaced by U+FFFD, and cut to at most `maxUnits` UTF-16 code units (what our
 * schemas' `max` counts) on a character boundary, never inside a surrogate pair, an emoji sequence or a
 * letter and its accents (a cut at 255 code units inside an emoji left a lone surrogate: issue 31).
 */
export function storableText(text: string, maxUnits: number): { text: string; cleaned: string[] } {
  const cleaned: string[] = [];
  let t = text;
  if (t.includes("\u0000")) {
    t = t.replaceAll("\u0000", "");
    cleaned.push("held a NUL character (U+0000), removed");
  }
  if (LONE_SURROGATE.test(t)) {
    t = t.replace(LONE_SURROGATES, "\uFFFD");
    cleaned.push("held a lone UTF-16 surrogate, replaced by U+FFFD");
  }
  if (t.length > maxUnits) {
    let cut = "";
    for (const { segment } of graphemes.segment(t)) {
      if (cut.length + segment.length > maxUnits) break;
      cut += segment;
    }
    t = cut;
    cleaned.push(`was longer than ${maxUnits} characters, cut to ${[...t].length}`);
  }
  return { text: t, cleaned };
}

export interface Unstorable {
  path: Array<string | number>;
  message: string;
}

/**
 * The first place in a JSON value (keys included) that cannot be stored, or null. Iterative, so a
 * document nested 20,000 levels deep is refused at level MAX_JSON_DEPTH, not by a stack overflow.
 */
export function unstorable(value: unknown, maxDepth = MAX_JSON_DEPTH): Unstorable | null {
  const todo: Array<{ value: unknown; path: Array<string | number> }> = [{ value, path: [] }];
  for (let item = todo.pop(); item !== undefined; item = todo.pop()) {
    const { value: v, path } = item;
    if (typeof v === "string") {
      const why = unstorableText(v);
      if (why) return { path, message: why };
    } else if (typeof v === "object" && v !== null) {
      if (path.length >= maxDepth) return { path, message: `nested deeper than ${maxDepth} levels` };
      const array = Array.isArray(v);
      for (const [k, x] of Object.entries(v)) {
        const keyWhy = array ? null : unstorableText(k);
        if (keyWhy) return { path: [...path, k], message: `its name ${keyWhy}` };
        todo.push({ value: x, path: [...path, array ? Number(k) : k] });
      }
    }
  }
  return null;
}

/** A zod refinement: the parsed document can be stored, else one issue at the field that cannot. */
export function storable(value: unknown, ctx: z.core.$RefinementCtx): void {
  const found = unstorable(value);
  if (found) ctx.addIssue({ code: "custom", path: found.path, message: found.message, input: value });
}

/**
 * An ISO 8601 instant PostgreSQL's `timestamptz` takes. ISO 8601 and zod accept the year 0000, which
 * PostgreSQL refuses ("date/time field value out of range": its calendar goes from 1 BC to AD 1).
 */
export const inStoredCalendar = (iso: string): boolean => !iso.startsWith("0000-");
export const OUT_OF_CALENDAR = "year 0000 is outside the calendar the database keeps (1 BC is followed by AD 1)";
