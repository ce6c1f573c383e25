import { PGlite } from "@electric-sql/pglite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { DATA_DIR_ENTRIES, restrictToOwner } from "../data-dir.js";
import { EmbeddedScheduler, unscheduled, type Scheduler } from "./embedded-scheduler.js";
import { initialiseInChild, isInitialised } from "./pglite-init.js";

/** The one database seam: embedded PGlite by default, a real PostgreSQL when DATABASE_URL is set. */
export interface Db {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Parameterless, possibly multi-statement SQL (migrations). */
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` holding an exclusive lock named `key` across every process on this database, or returns
   * `acquired: false` at once if another holds it. On PostgreSQL it is a session advisory lock: when its
   * holder dies, its connection closes and the lock is freed, so a held lock always has a live owner.
   * PGlite is one process: the lock is a set in memory.
   */
  tryWithLock<T>(key: string, fn: () => Promise<T>): Promise<{ acquired: true; value: T } | { acquired: false }>;
  /** The same database as pg-boss wants it: `executeSql(text, values)` returning `{ rows }`. */
  executor(): { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> };
  close(): Promise<void>;
}

/** Advisory locks take a bigint: the key's 64-bit hash, computed by PostgreSQL itself. */
const LOCK_SQL = "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok";
const UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";

/** The service's database and who goes first on it (the intake batcher's scheduler). */
export async function openDb(opts: { databaseUrl?: string | undefined; dataDir: string }): Promise<{ db: Db; scheduler: Scheduler }> {
  if (opts.databaseUrl) return { db: await openPostgres(opts.databaseUrl), scheduler: unscheduled };
  // The data directory itself is loadConfig's to claim and close: here only the database's own directory is touched.
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const dir = join(opts.dataDir, DATA_DIR_ENTRIES.database);
  if (!isInitialised(dir)) await initialiseInChild(dir);
  const scheduler = new EmbeddedScheduler();
  const db = await openPglite({ dir, scheduler });
  // Its WAL and tables hold customers' details: the files a new database starts with, and those PGlite
  // writes as it opens one (pg_internal.init, 0644), are made 0600 too.
  restrictToOwner(dir);
  return { db, scheduler };
}

/**
 * PostgreSQL's default, 128 MB of shared buffers, is memory PGlite's WebAssembly instance touches and
 * keeps: with 32 MB a bare node process holding an opened database went from 304 to 202 MiB resident
 * (16 or 8 MB saved nothing more; @electric-sql/pglite 0.5.16). PGlite reads its files through node's fs,
 * so pages evicted from the buffers are still served from the kernel's page cache.
 */
const START_PARAMS = [...PGlite.defaultStartParams, "-c", "shared_buffers=32MB"];

/**
 * `dir` undefined: in memory (tests). A directory must already hold a database (`initialiseInChild`):
 * initdb here would leave this process at its peak memory. What is begun outside a transaction runs as
 * `scheduler`'s background work (see EmbeddedScheduler); inside a transaction statements run straight on.
 */
export async function openPglite(o: { dir?: string; scheduler?: EmbeddedScheduler } = {}): Promise<Db> {
  if (o.dir && !isInitialised(o.dir)) throw new Error(`no database in ${o.dir}: initialise it first (initialiseInChild)`);
  const pglite = new PGlite(o.dir, { startParams: START_PARAMS });
  await pglite.waitReady;
  const scheduler = o.scheduler ?? new EmbeddedScheduler();
  // `outside`: not within a transaction, hence scheduled.
  const wrap = (q: Pick<PGlite, "query" | "exec">, outside: boolean): Pick<Db, "query" | "exec"> => ({
    async query<T>(sql: string, params?: unknown[]) {
      const run = async () => (await q.query<T>(sql, params)).rows;
      return outside ? scheduler.background(run) : run();
    },
    async exec(sql: string) {
      const run = async () => void (await q.exec(sql));
      return outside ? scheduler.background(run) : run();
    },
  });
  const held = new Set<string>();
  const tryWithLock: Db["tryWithLock"] = async (key, fn) => {
    if (held.has(key)) return { acquired: false };
    held.add(key);
    try {
      return { acquired: true, value: await fn() };
    } finally {
      held.delete(key);
    }
  };
  const executorOf = (q: Pick<PGlite, "query" | "exec">, outside: boolean) => ({
    // pg-boss sends multi-statement DDL without parameters: that goes through exec (simple protocol).
    async executeSql(text: string, values?: unknown[]) {
      const run = async () => {
        if (!values || values.length === 0) return { rows: (await q.exec(text)).at(-1)?.rows ?? [] };
        return { rows: (await q.query(text, values)).rows };
      };
      return outside ? scheduler.background(run) : run();
    },
  });
  return {
    ...wrap(pglite, true),
    transaction: (fn) =>
      scheduler.background(() =>
        pglite.transaction(async (tx) => {
          const inner: Db = { ...wrap(tx, false), transaction: (f) => f(inner), tryWithLock, executor: () => executorOf(tx, false), close: async () => {} };
          return fn(inner);
        }),
      ),
    tryWithLock,
    executor: () => executorOf(pglite, true),
    close: () => pglite.close(),
  };
}

export async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  // An idle connection dropped by the server (restart, failover) must not crash the process: the pool
  // replaces it, and queries in flight fail with their own error.
  pool.on("error", () => {});
  // Fail fast with a clear message rather than at the first webhook.
  await pool.query("SELECT 1");
  const wrap = (c: pg.Pool | pg.PoolClient): Pick<Db, "query" | "exec"> => ({
    async query<T>(sql: string, params?: unknown[]) {
      return (await c.query(sql, params)).rows as T[];
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  });
  const executorOf = (c: pg.Pool | pg.PoolClient) => ({
    async executeSql(text: string, values?: unknown[]) {
      return { rows: (await c.query(text, values)).rows as unknown[] };
    },
  });
  const tryWithLock: Db["tryWithLock"] = async (key, fn) => {
    // A dedicated connection: the lock lives exactly as long as this session (and its process).
    const client = await pool.connect();
    try {
      const [row] = (await client.query<{ ok: boolean }>(LOCK_SQL, [key])).rows;
      if (!row?.ok) return { acquired: false };
      try {
        return { acquired: true, value: await fn() };
      } finally {
        await client.query(UNLOCK_SQL, [key]);
      }
    } finally {
      client.release();
    }
  };
  return {
    ...wrap(pool),
    tryWithLock,
    executor: () => executorOf(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const inner: Db = { ...wrap(client), transaction: (f) => f(inner), tryWithLock, executor: () => executorOf(client), close: async () => {} };
        const result = await fn(inner);
        await client.query("COMMIT");
        return result;
      } catch (e) {
        await client.query("ROLLBACK").catch(() => {});
        throw e;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
