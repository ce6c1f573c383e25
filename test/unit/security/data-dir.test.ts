import { execFile } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config.js";
import { createLogger } from "../../../src/log.js";
import { startService } from "../../../src/server.js";
import { openDb } from "../../../src/store/db.js";
import { migrate } from "../../../src/store/migrations.js";
import { RecordingEngine } from "../../support/recording-engine.js";

const modeOf = (path: string) => statSync(path).mode & 0o777;
// Every directory of this file lives under one of its own, removed at the end (never the system's /tmp itself).
const root = mkdtempSync(join(tmpdir(), "datadir-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fresh = () => mkdtempSync(join(root, "datadir-"));

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

/** Another user's uid: nobody's. Only root can give a file away; elsewhere the case is skipped. */
const OTHER_UID = 65534;
const isRoot = process.getuid?.() === 0;

/** Everything a start could change under `dir`, the directory included: mode (sticky bit too), owner, content. */
function snapshot(dir: string): Record<string, string> {
  const found: Record<string, string> = {};
  const visit = (path: string, name: string) => {
    const st = lstatSync(path);
    const content = st.isFile() ? ` ${readFileSync(path, "utf8")}` : "";
    found[name] = `${(st.mode & 0o7777).toString(8)} uid ${st.uid}${content}`;
    if (st.isDirectory()) for (const child of readdirSync(path)) visit(join(path, child), `${name}/${child}`);
  };
  visit(dir, ".");
  return found;
}

/** The start's refusal: a ConfigError of one line (the CLI prints it as is), or undefined if it started. */
function refusalOf(dataDir: string): string | undefined {
  try {
    loadConfig({ DATA_DIR: dataDir });
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const message = (e as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
}

/** A directory like /tmp: mode 1777, holding another user's files and directory (theirs when we are root). */
function sharedLikeTmp(): string {
  const dir = join(fresh(), "tmp");
  mkdirSync(dir);
  chmodSync(dir, 0o1777);
  mkdirSync(join(dir, "their-postgres"));
  chmodSync(join(dir, "their-postgres"), 0o755);
  writeFileSync(join(dir, "their-postgres", "postmaster.pid"), "4242\n");
  chmodSync(join(dir, "their-postgres", "postmaster.pid"), 0o644);
  writeFileSync(join(dir, "their-report.txt"), "shared with the group\n");
  chmodSync(join(dir, "their-report.txt"), 0o664);
  if (isRoot) for (const p of ["their-postgres", "their-postgres/postmaster.pid", "their-report.txt"]) chownSync(join(dir, p), OTHER_UID, OTHER_UID);
  return dir;
}

describe("DATA_DIR must name a directory of the service's own: nothing else is ever changed", () => {
  it("a shared sticky directory holding another user's files is refused at start and left exactly as it was", () => {
    const dir = sharedLikeTmp();
    const before = snapshot(dir);
    const refusal = refusalOf(dir);
    expect(snapshot(dir)).toEqual(before);
    expect(statSync(dir).mode & 0o7777).toBe(0o1777);
    expect(refusal).toMatch(/^DATA_DIR .*tmp is shared \(sticky.*point DATA_DIR at a new or empty directory/);
  });

  it.each([
    ["writable by every user", 0o777, false, /is writable by every user \(mode 777\)/],
    ["owned by another user", 0o755, true, /belongs to uid 65534, not to the service's user/],
  ])("an empty directory %s is refused too, and keeps its mode", (_what, mode, otherOwner, reason) => {
    if (otherOwner && !isRoot) return;
    const dir = join(fresh(), "shared");
    mkdirSync(dir);
    chmodSync(dir, mode);
    if (otherOwner) chownSync(dir, OTHER_UID, OTHER_UID);
    const before = snapshot(dir);
    const refusal = refusalOf(dir);
    expect(snapshot(dir)).toEqual(before);
    expect(refusal).toMatch(reason);
  });

  it("a directory that is not empty and not the service's is refused, and nothing in it changes", () => {
    const dir = fresh();
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, "notes.txt"), "an operator's file\n", { mode: 0o644 });
    chmodSync(join(dir, "notes.txt"), 0o644);
    mkdirSync(join(dir, "pulumi"));
    chmodSync(join(dir, "pulumi"), 0o755);
    const before = snapshot(dir);
    const refusal = refusalOf(dir);
    expect(snapshot(dir)).toEqual(before);
    expect(refusal).toMatch(/is not empty and not this service's \(it holds notes\.txt\).*new or empty directory/);
  });

  it("a new directory is created 0700 and marked as the service's, with its secrets 0600", () => {
    const dir = join(fresh(), "new", "data");
    expect(refusalOf(dir)).toBeUndefined();
    expect(modeOf(dir)).toBe(0o700);
    expect(readdirSync(dir).sort()).toEqual([".openstack-tenants", "customer-token-key", "operator-token", "pulumi", "pulumi-passphrase"]);
    expect(open(dir)).toEqual([]);
  });

  it("an empty directory is taken as the service's: closed to 0700 and marked, and later starts need nothing more", () => {
    const dir = fresh();
    chmodSync(dir, 0o755);
    expect(loadConfig({ DATA_DIR: dir }).dataDirAdopted).toBe(false);
    expect(modeOf(dir)).toBe(0o700);
    expect(existsSync(join(dir, ".openstack-tenants"))).toBe(true);
    expect(open(dir)).toEqual([]);
    expect(loadConfig({ DATA_DIR: dir }).dataDirAdopted).toBe(false);
  });

  it("an earlier version's data directory (its layout, no marker) is adopted once with a line in the log, its database kept, everything 0700 / 0600", async () => {
    const dir = fresh();
    const earlier = await openDb({ databaseUrl: undefined, dataDir: dir });
    await earlier.db.exec("CREATE TABLE kept (n integer); INSERT INTO kept VALUES (7)");
    await earlier.db.close();
    for (const name of ["operator-token", "pulumi-passphrase", "customer-token-key"]) writeFileSync(join(dir, name), `${name}-0123456789abcdef0123456789abcdef\n`, { mode: 0o600 });
    mkdirSync(join(dir, "pulumi", ".pulumi", "stacks", "openstack-tenants"), { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, "pulumi", ".pulumi", "stacks", "openstack-tenants", "sub-1.json"), "{}", { mode: 0o644 });
    for (const p of ["", "pulumi", "pulumi/.pulumi", "pulumi/.pulumi/stacks", "pulumi/.pulumi/stacks/openstack-tenants"]) chmodSync(join(dir, p), 0o755);
    chmodSync(join(dir, "pulumi", ".pulumi", "stacks", "openstack-tenants", "sub-1.json"), 0o644);

    const env = { DATA_DIR: dir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info" };
    const lines: string[] = [];
    const svc = await startService(loadConfig(env), { engine: new RecordingEngine(), log: createLogger({ redact: (t) => t, write: (l) => lines.push(l) }) });
    try {
      expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    } finally {
      await svc.close();
    }
    expect(lines.filter((l) => l.includes("data directory of an earlier version adopted"))).toHaveLength(1);
    expect(modeOf(dir)).toBe(0o700);
    expect(open(dir)).toEqual([]);
    expect(loadConfig(env).dataDirAdopted).toBe(false);
    const { db } = await openDb({ databaseUrl: undefined, dataDir: dir });
    try {
      expect(await db.query("SELECT n FROM kept")).toEqual([{ n: 7 }]);
    } finally {
      await db.close();
    }
  }, 90_000);

  it("inside its own directory the service changes only its own entries: a file an operator put there keeps its mode", () => {
    const dir = fresh();
    loadConfig({ DATA_DIR: dir });
    writeFileSync(join(dir, "README.operator"), "backed up nightly\n");
    chmodSync(join(dir, "README.operator"), 0o644);
    loadConfig({ DATA_DIR: dir });
    expect(modeOf(join(dir, "README.operator"))).toBe(0o644);
  });

  it("`tenantctl serve` on a shared directory stops with one line saying why and what to do, exit status 2", async () => {
    const dir = sharedLikeTmp();
    const before = snapshot(dir);
    const { status, stderr } = await new Promise<{ status: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "src/cli.ts", "serve"], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dir, PORT: "0", HOST: "127.0.0.1" }, timeout: 30_000 }, (error, _stdout, stderr) =>
        resolve({ status: error ? Number(error.code ?? 1) : 0, stderr }),
      );
    });
    expect(stderr).toMatch(/^tenantctl: DATA_DIR .* is shared \(sticky.*point DATA_DIR at a new or empty directory[^\n]*\n$/);
    expect(status).toBe(2);
    expect(snapshot(dir)).toEqual(before);
  });
});
