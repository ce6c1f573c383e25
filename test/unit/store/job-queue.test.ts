import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type Db } from "../../../src/store/db.js";
import { JobQueue } from "../../../src/store/job-queue.js";
import { migrate } from "../../../src/store/migrations.js";

describe("JobQueue.enqueueMany on the embedded database", () => {
  let db: Db;
  let queue: JobQueue;
  beforeAll(async () => {
    db = await openPglite();
    await migrate(db);
    queue = await JobQueue.open(db, { maxAttempts: 2, backoffMs: 0, expireInSeconds: 60 }, () => {});
  }, 60_000);
  afterAll(async () => {
    await queue.stop();
    await db.close();
  });

  const waiting = async () =>
    (await db.query<{ key: string }>("SELECT singleton_key AS key FROM jobs.job WHERE name = 'reconcile' AND state = 'created' ORDER BY 1")).map((r) => r.key);

  it("keeps one waiting job per subscription, and queues a new one once the waiting one has been taken", async () => {
    await db.transaction((tx) => queue.enqueueMany(["a", "b"], { tx }));
    await db.transaction((tx) => queue.enqueueMany(["a", "b", "c"], { tx }));
    expect(await waiting()).toEqual(["a", "b", "c"]);
    // A job taken by a worker is no longer waiting: the next event for its subscription needs a new one.
    const taken = await queue.fetch();
    expect(taken).not.toBeNull();
    await db.transaction((tx) => queue.enqueueMany(["a", "b", "c"], { tx }));
    expect(await waiting()).toEqual(["a", "b", "c"]);
    expect(Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM jobs.job WHERE name = 'reconcile'"))[0]?.n)).toBe(4);
  });
});
