import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";

/** The one database seam: embedded PGlite by default, a real PostgreSQL when DATABASE_URL is set. */
export interface Db {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Parameterless, possibly multi-statement SQL (migrations). */
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openDb(opts: { databaseUrl?: string | undefined; dataDir: string }): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl);
  mkdirSync(opts.dataDir, { recursive: true });
  return openPglite(`${opts.dataDir}/pglite`);
}

/** `dir` undefined: in memory (tests). */
export async function openPglite(dir?: string): Promise<Db> {
  const pglite = dir ? new PGlite(dir) : new PGlite();
  await pglite.waitReady;
  const wrap = (q: Pick<PGlite, "query" | "exec">): Omit<Db, "transaction" | "close"> => ({
    async query<T>(sql: string, params?: unknown[]) {
      return (await q.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  });
  const db: Db = {
    ...wrap(pglite),
    transaction: (fn) =>
      pglite.transaction(async (tx) => {
        const inner: Db = { ...wrap(tx), transaction: (f) => f(inner), close: async () => {} };
        return fn(inner);
      }),
    close: () => pglite.close(),
  };
  return db;
}

export async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // Fail fast with a clear message rather than at the first webhook.
  await pool.query("SELECT 1");
  const wrap = (c: pg.Pool | pg.PoolClient): Omit<Db, "transaction" | "close"> => ({
    async query<T>(sql: string, params?: unknown[]) {
      return (await c.query(sql, params)).rows as T[];
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  });
  return {
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const inner: Db = { ...wrap(client), transaction: (f) => f(inner), close: async () => {} };
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
