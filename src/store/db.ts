import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { ensurePrivateDir, restrictToOwner } from "../data-dir.js";

/** The one database seam: embedded PGlite by default, a real PostgreSQL when DATABASE_URL is set. */
export interface Db {
  /**
   * True when transactions never run concurrently (PGlite: one connection in one process), so row and
   * advisory locks taken to serialise writers are not needed.
   */
  readonly serialized: boolean;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Parameterless, possibly multi-statement SQL (migrations). */
  exec(sql: string): Promise<void>;
  /** `foreground`: someone waits for it (a webhook intake batch); it does not wait for the gate below. */
  transaction<T>(fn: (tx: Db) => Promise<T>, o?: { foreground?: boolean }): Promise<T>;
  /**
   * Foreground work (webhooks waiting for their 202) is about to use the database: until the returned
   * function is called, background statements (operations, job polling) wait before they start, at most
   * a second each. On the embedded database only: PostgreSQL serves connections side by side.
   */
  holdBackground(): () => void;
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

export async function openDb(opts: { databaseUrl?: string | undefined; dataDir: string }): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl);
  const dir = `${ensurePrivateDir(opts.dataDir)}/pglite`;
  const db = await openPglite(dir);
  // Its WAL and tables hold customers' details: the files a new database starts with are made 0600 too.
  restrictToOwner(dir);
  return db;
}

/** Where background work never waits for webhooks (inside a transaction; on PostgreSQL). */
const nothingToHold = () => () => {};

const letLoopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Background statements wait while foreground work holds the gate (each wait bounded: never starved). */
class BackgroundGate {
  private holders = 0;
  private readonly waiting = new Set<() => void>();

  hold(): () => void {
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holders === 0) for (const wake of [...this.waiting]) wake();
    };
  }

  async passed(maxWaitMs = 1000): Promise<void> {
    if (this.holders === 0) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxWaitMs);
      this.waiting.add(wake);
    });
  }
}

/** `dir` undefined: in memory (tests). */
export async function openPglite(dir?: string): Promise<Db> {
  const pglite = dir ? new PGlite(dir) : new PGlite();
  await pglite.waitReady;
  // PGlite runs each statement on this thread, first come first served, and resolves it without ever
  // letting the event loop turn: a stream of statements (stack operations, job polling) would leave
  // sockets unread and webhooks queued behind it. So every statement or transaction begun from outside a
  // transaction is background work: it first lets the loop turn once (requests are read and join the
  // next intake batch), then takes its turn among background work, one at a time (so that a webhook batch
  // finds at most one ahead of it in PGlite's queue), and waits while webhooks hold the gate. Inside a
  // transaction statements run straight on; a foreground transaction (an intake batch) skips all this.
  const gate = new BackgroundGate();
  let previousInLine: Promise<void> = Promise.resolve();
  const background = async <T>(run: () => Promise<T>): Promise<T> => {
    await letLoopTurn();
    const previous = previousInLine;
    let done!: () => void;
    previousInLine = new Promise<void>((r) => (done = r));
    await previous;
    try {
      await gate.passed();
      return await run();
    } finally {
      done();
    }
  };
  // `outside`: not within a transaction, hence background work.
  const wrap = (q: Pick<PGlite, "query" | "exec">, outside: boolean): Pick<Db, "query" | "exec"> => ({
    async query<T>(sql: string, params?: unknown[]) {
      const run = async () => (await q.query<T>(sql, params)).rows;
      return outside ? background(run) : run();
    },
    async exec(sql: string) {
      const run = async () => void (await q.exec(sql));
      return outside ? background(run) : run();
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
      return outside ? background(run) : run();
    },
  });
  const db: Db = {
    serialized: true,
    ...wrap(pglite, true),
    async transaction(fn, o) {
      const run = () =>
        pglite.transaction(async (tx) => {
          const inner: Db = {
            serialized: true, ...wrap(tx, false), transaction: (f) => f(inner), tryWithLock, holdBackground: nothingToHold, executor: () => executorOf(tx, false), close: async () => {},
          };
          return fn(inner);
        });
      return o?.foreground ? run() : background(run);
    },
    tryWithLock,
    holdBackground: () => gate.hold(),
    executor: () => executorOf(pglite, true),
    close: () => pglite.close(),
  };
  return db;
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
    serialized: false,
    holdBackground: nothingToHold,
    ...wrap(pool),
    tryWithLock,
    executor: () => executorOf(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const inner: Db = { serialized: false, holdBackground: nothingToHold, ...wrap(client), transaction: (f) => f(inner), tryWithLock, executor: () => executorOf(client), close: async () => {} };
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
