/** Human output of tenantctl: aligned tables and a one-line progress bar. `--json` bypasses all of it. */

export function table(rows: Array<Record<string, unknown>>, out: (line: string) => void = console.log): void {
  if (rows.length === 0) {
    out("(none)");
    return;
  }
  const cols = Object.keys(rows[0] ?? {});
  // One line per row: a multi-line value (an error with its output) is folded onto one line.
  const cell = (v: unknown) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)).replace(/\s*\n\s*/g, " ");
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  out(line(cols.map((c) => c.toUpperCase())));
  for (const r of rows) out(line(cols.map((c) => cell(r[c]))));
}

/** Key/value lines, keys aligned: one subscription, one run. */
export function fields(pairs: Array<[string, unknown]>, out: (line: string) => void = console.log): void {
  const width = Math.max(...pairs.map(([k]) => k.length));
  for (const [k, v] of pairs) out(`${`${k}:`.padEnd(width + 1)} ${(v === null || v === undefined ? "-" : typeof v === "object" ? JSON.stringify(v) : String(v)).replace(/\s*\n\s*/g, " ")}`);
}

export function progressBar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}`;
}

export function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
