import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type Db } from "../../../src/store/db.js";
import { EmbeddedScheduler } from "../../../src/store/embedded-scheduler.js";

describe("the embedded database and the event loop", () => {
  let db: Db;
  const scheduler = new EmbeddedScheduler();
  beforeAll(async () => {
    db = await openPglite({ scheduler });
  }, 30_000);
  afterAll(() => db.close());

  it("lets the event loop turn between statements: a stream of them does not hold webhooks unread", async () => {
    // A timer stands for a request waiting on its socket: it must run while the statements go on.
    let fired = false;
    setTimeout(() => (fired = true), 0);
    let before = 0;
    for (let i = 0; i < 50; i++) {
      await db.query("SELECT 1");
      if (!fired) before++;
    }
    expect(fired).toBe(true);
    expect(before).toBeLessThan(5);
  });

  it("runs a transaction's statements straight on (they hold the connection)", async () => {
    const order: string[] = [];
    const tx = db.transaction(async (t) => {
      for (let i = 0; i < 3; i++) {
        await t.query("SELECT 1");
        order.push(`tx ${i}`);
      }
    });
    const outside = db.query("SELECT 1").then(() => order.push("outside"));
    await Promise.all([tx, outside]);
    expect(order).toEqual(["tx 0", "tx 1", "tx 2", "outside"]);
  });

  it("holds background statements back while webhooks hold the gate; their own transaction goes through", async () => {
    const release = scheduler.holdBackground();
    let background = false;
    const waiting = db.query("SELECT 1").then(() => (background = true));
    const intake = await scheduler.foreground(() => db.transaction(async (tx) => (await tx.query<{ n: number }>("SELECT 2 AS n"))[0]?.n));
    expect(intake).toBe(2);
    await new Promise((r) => setTimeout(r, 30));
    expect(background).toBe(false);
    release();
    await waiting;
    expect(background).toBe(true);
  });

  it("never holds background work for more than a second at a time", async () => {
    const release = scheduler.holdBackground();
    const started = performance.now();
    await db.query("SELECT 1");
    const waited = performance.now() - started;
    release();
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(5000);
  });

  it("lets background statements into PGlite one at a time, so a webhook batch finds at most one ahead of it", async () => {
    const order: string[] = [];
    // A background transaction keeps PGlite busy while three more background statements come.
    let release: () => void = () => {};
    const busy = db.transaction(async (tx) => {
      await tx.query("SELECT 1");
      await new Promise<void>((r) => (release = r));
    });
    await new Promise((r) => setTimeout(r, 10));
    const background = [1, 2, 3].map((i) => db.query("SELECT 1").then(() => order.push(`background ${i}`)));
    await new Promise((r) => setTimeout(r, 10));
    const intake = scheduler.foreground(() =>
      db.transaction(async (tx) => {
        await tx.query("SELECT 1");
        order.push("intake");
      }),
    );
    release();
    await Promise.all([busy, ...background, intake]);
    expect(order).toEqual(["intake", "background 1", "background 2", "background 3"]);
  });

  it("a statement run as foreground work goes ahead of background work held back by the gate", async () => {
    const release = scheduler.holdBackground();
    const order: string[] = [];
    const background = db.query("SELECT 1").then(() => order.push("background"));
    await scheduler.foreground(async () => {
      await db.query("SELECT 1");
      order.push("foreground");
    });
    expect(order).toEqual(["foreground"]);
    release();
    await background;
    expect(order).toEqual(["foreground", "background"]);
  });

  /** Statements done by three flows of background statements while `work` runs. */
  async function doneMeanwhile(work: () => Promise<void>): Promise<number> {
    let stop = false;
    let others = 0;
    const flows = [1, 2, 3].map(async () => {
      while (!stop) {
        await db.query("SELECT 1");
        others++;
      }
    });
    await new Promise((r) => setTimeout(r, 5));
    const before = others;
    await work();
    const meanwhile = others - before;
    stop = true;
    await Promise.all(flows);
    return meanwhile;
  }

  const tenStatements = async () => {
    for (let i = 0; i < 10; i++) await db.query("SELECT 1");
  };

  it("runs a customer's statements (ahead) without a loop turn each, while bulk work's take one turn each", async () => {
    // Three flows of background statements, each waiting for a loop turn before it goes, like a fleet's
    // operations; a customer's operation sends ten statements one after the other meanwhile. Taking a
    // loop turn per statement, the flows would have done about 3 x 10 meanwhile.
    expect(await doneMeanwhile(() => scheduler.ahead(tenStatements))).toBeLessThan(10);
  });

  it("runs what is ordinary within ahead work with a loop turn per statement again", async () => {
    // Each of the ten waits for a loop turn, in which each of the three flows does one.
    expect(await doneMeanwhile(() => scheduler.ahead(() => scheduler.ordinary(tenStatements)))).toBeGreaterThanOrEqual(10);
  });

  it("holds a customer's statements (ahead) while webhooks hold the gate", async () => {
    const release = scheduler.holdBackground();
    let done = false;
    const customer = scheduler.ahead(() => db.query("SELECT 1")).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    release();
    await customer;
    expect(done).toBe(true);
  });
});
