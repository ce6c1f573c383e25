import { afterEach, describe, expect, it, vi } from "vitest";
import { fields, print, table } from "../../../src/cli/format.js";

/** What a customer could name itself to reach an operator's terminal: a window title (OSC 0), a clear screen (CSI 2J), an 8-bit CSI, a reversal. */
const HOSTILE = "\u001b]0;owned\u0007\u001b[2J\u009b31mEvil\u202eLtd\r";

/** The raw control characters and overrides in a text (tab and newline are fine). */
const raw = (text: string) => [...text].filter((c) => {
  const n = c.codePointAt(0) ?? 0;
  return (n < 0x20 && c !== "\t" && c !== "\n") || (n >= 0x7f && n <= 0x9f) || n === 0x202e;
});

const lines = () => {
  const out: string[] = [];
  return { out, push: (l: string) => void out.push(l) };
};
afterEach(() => {
  vi.restoreAllMocks();
});

describe("tenantctl's human output", () => {
  it("a table shows control characters and bidirectional overrides as escapes, never raw", () => {
    const o = lines();
    table([{ id: "1", customer: HOSTILE }], o.push);
    const text = o.out.join("\n");
    expect(raw(text)).toEqual([]);
    expect(text).toContain("\\u001b]0;owned\\u0007\\u001b[2J\\u009b31mEvil\\u202eLtd\\u000d");
  });

  it("key/value lines do the same", () => {
    const o = lines();
    fields([["customer", HOSTILE]], o.push);
    expect(o.out[0]).toBe("customer: \\u001b]0;owned\\u0007\\u001b[2J\\u009b31mEvil\\u202eLtd\\u000d");
  });

  it("--json output stays valid JSON with the same value, and carries no raw C1 or override character", () => {
    let written = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      written += String(chunk);
      return true;
    });
    print({ name: HOSTILE });
    expect(raw(written)).toEqual([]);
    expect((JSON.parse(written) as { name: string }).name).toBe(HOSTILE);
  });
});
