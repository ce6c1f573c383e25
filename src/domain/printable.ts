/**
 * Control characters (C0 but tab and newline, DEL, C1) and the bidirectional overrides: what a customer's
 * name or a marketplace's field may carry to an operator's terminal or console. ESC starts ANSI sequences
 * (OSC 0 sets the window title, CSI 2J clears the screen), U+009B is an 8-bit CSI on terminals that honour
 * C1, and U+202E reverses the text after it ("Trojan Source", CVE-2021-42574). One rule for tenantctl and
 * the console (issue 31: the console showed the overrides raw).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Data as an operator may be shown it: every unprintable character as its `\uXXXX` escape. */
export const printable = (text: string): string =>
  text.replace(UNPRINTABLE, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`);

/** Every string in a JSON value (keys included) made printable. */
export function printableDeep<T>(value: T): T {
  if (typeof value === "string") return printable(value) as T;
  if (Array.isArray(value)) return value.map(printableDeep) as T;
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [printable(k), printableDeep(v)])) as T;
  }
  return value;
}
