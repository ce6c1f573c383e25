/** Human output of tenantctl: aligned tables and a one-line progress bar. `--json` bypasses all of it. */

import { printable } from "../domain/printable.js";

/** Data as the operator's terminal may show it (domain/printable.ts: one rule for tenantctl and the console). */
export { printable };

/** One line (or more) of human output on stdout, its data made printable. */
export function say(text: string): void {
  process.stdout.write(`${printable(text)}\n`);
}

export function table(rows: Array<Record<string, unknown>>, out: (line: string) => void = say): void {
  if (rows.length === 0) {
    out("(none)");
    return;
  }
  const cols = Object.keys(rows[0] ?? {});
  // One line per row: a multi-line value (an error with its output) is folded onto one line.
  const cell = (v: unknown) => printable((v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)).replace(/\s*\n\s*/g, " "));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  out(line(cols.map((c) => c.toUpperCase())));
  for (const r of rows) out(line(cols.map((c) => cell(r[c]))));
}

/** Key/value lines, keys aligned: one subscription, one run. */
export function fields(pairs: Array<[string, unknown]>, out: (line: string) => void = say): void {
  const width = Math.max(...pairs.map(([k]) => k.length));
  const value = (v: unknown) => (v === null || v === undefined ? "-" : typeof v === "object" ? JSON.stringify(v) : String(v)).replace(/\s*\n\s*/g, " ");
  for (const [k, v] of pairs) out(`${`${k}:`.padEnd(width + 1)} ${printable(value(v))}`);
}

export function progressBar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}`;
}

export function print(value: unknown): void {
  // JSON escapes C0 itself; DEL, C1 and the bidirectional overrides are escaped here (still valid JSON).
  process.stdout.write(`${printable(JSON.stringify(value, null, 2))}\n`);
}
