import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config.js";
import { openDb } from "../../../src/store/db.js";
import { migrate } from "../../../src/store/migrations.js";

const modeOf = (path: string) => statSync(path).mode & 0o777;
const fresh = () => mkdtempSync(join(tmpdir(), "datadir-"));

/** Every file and directory under `dir` whose mode lets anyone but the owner in. */
function open(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink()) continue;
    if ((st.mode & 0o077) !== 0) found.push(`${path} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) found.push(...open(path));
  }
  return found;
}

describe("the data directory is the service user's alone", () => {
  it("an existing data directory left 0755 with 0644 files is closed to 0700 / 0600 at start", () => {
    const dir = fresh();
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, "pulumi"), { mode: 0o755 });
    writeFileSync(join(dir, "pulumi", "stack.json"), "{}", { mode: 0o644 });
    loadConfig({ DATA_DIR: dir });
    expect(modeOf(dir)).toBe(0o700);
    expect(open(dir)).toEqual([]);
  });

  it("files the process creates afterwards are 0600 (umask 077, inherited by the pulumi CLI it runs)", () => {
    const dir = fresh();
    loadConfig({ DATA_DIR: dir });
    writeFileSync(join(dir, "later.txt"), "x");
    mkdirSync(join(dir, "later"));
    expect(modeOf(join(dir, "later.txt"))).toBe(0o600);
    expect(modeOf(join(dir, "later"))).toBe(0o700);
  });

  it("the embedded database's files (PGlite writes them 0666) are 0600, and stay so after writes", async () => {
    const dir = fresh();
    const config = loadConfig({ DATA_DIR: dir });
    const { db } = await openDb({ databaseUrl: undefined, dataDir: config.dataDir });
    try {
      await migrate(db);
      await db.exec("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g; CHECKPOINT;");
    } finally {
      await db.close();
    }
    expect(readdirSync(join(dir, "pglite")).length).toBeGreaterThan(5);
    expect(open(dir)).toEqual([]);
  }, 60_000);

  it.each([
    ["readable by others", "op-token-0123456789abcdef\n", 0o644, /operator-token.*mode 644.*chmod 600/],
    ["empty", "\n", 0o600, /operator-token is empty/],
    ["too short", "abc\n", 0o600, /operator-token holds 3 characters.*at least 16/],
  ])("an operator-token file %s stops the start with a one-line reason", (_what, content, mode, reason) => {
    const dir = fresh();
    writeFileSync(join(dir, "operator-token"), content);
    chmodSync(join(dir, "operator-token"), mode);
    let error: unknown;
    try {
      loadConfig({ DATA_DIR: dir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).not.toContain("\n");
  });

  it("the generated secrets are created 0600 and a well-kept one is read back", () => {
    const dir = fresh();
    const first = loadConfig({ DATA_DIR: dir });
    for (const name of ["operator-token", "pulumi-passphrase", "customer-token-key"]) expect(modeOf(join(dir, name)), name).toBe(0o600);
    expect(loadConfig({ DATA_DIR: dir }).operatorToken).toBe(first.operatorToken);
  });
});
