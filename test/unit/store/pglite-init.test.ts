import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDb, openPglite } from "../../../src/store/db.js";
import { initialiseInChild } from "../../../src/store/pglite-init.js";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "pglite-init-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("a new embedded database is created outside the service process (initdb's memory goes with the child)", () => {
  it("the service process refuses to run initdb itself: an empty directory is not opened", async () => {
    const dir = fresh();
    await expect(openPglite({ dir })).rejects.toThrow(/no database in/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a child process initialises the directory, which the service then opens and keeps across restarts", async () => {
    const dir = join(fresh(), "pglite");
    const child = await initialiseInChild(dir);
    expect(child.pid).not.toBe(process.pid);
    expect(existsSync(join(dir, "PG_VERSION"))).toBe(true);
    const db = await openPglite({ dir });
    await db.exec("CREATE TABLE kept (n integer); INSERT INTO kept VALUES (7)");
    await db.close();
    const again = await openPglite({ dir });
    expect(await again.query("SELECT n FROM kept")).toEqual([{ n: 7 }]);
    await again.close();
  }, 60_000);

  it("the service's first start on an empty data directory works: openDb has it initialised first", async () => {
    const dataDir = fresh();
    const { db } = await openDb({ databaseUrl: undefined, dataDir });
    expect(await db.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    await db.close();
  }, 60_000);
});
