import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, type Db } from "../../src/store/db.js";
import { JobQueue } from "../../src/store/job-queue.js";
import { testcloud } from "../support/testcloud.js";

let a: Db;
let b: Db;
let queue: JobQueue;
beforeAll(async () => {
  a = await openPostgres(testcloud().TESTCLOUD_DATABASE_URL as string);
  b = await openPostgres(testcloud().TESTCLOUD_DATABASE_URL as string);
  queue = await JobQueue.open(a, { maxAttempts: 2, backoffMs: 0, expireInSeconds: 60 }, () => {});
}, 60_000);
afterAll(async () => {
  await queue?.stop();
  await a?.close();
  await b?.close();
});

/** What pg-boss 10's fetch does to pick a job (plans.js, fetchNextJob), for this one subscription's. */
const workerSees = async (subscription: string) =>
  (await b.query(`SELECT id FROM jobs.job WHERE name = 'reconcile' AND singleton_key = $1 AND state < 'active' FOR UPDATE SKIP LOCKED`, [subscription])).length;

describe("the reconcile queue on a real PostgreSQL (replicas side by side)", () => {
  it("a job already waiting when an intake reuses it is not started by another replica before the intake commits (no lost wake-up)", async () => {
    const subscription = `lost-wakeup-${process.pid}-${Date.now()}`;
    await queue.enqueueMany([subscription]);
    expect(await workerSees(subscription)).toBe(1);
    let commit!: () => void;
    let enqueued!: () => void;
    const inIntake = new Promise<void>((r) => (enqueued = r));
    const intake = a.transaction(async (tx) => {
      await queue.enqueueMany([subscription], { tx });
      enqueued();
      await new Promise<void>((r) => (commit = r));
    });
    await inIntake;
    // A worker taking the job now would read the subscription as it was before this intake's change.
    expect(await workerSees(subscription)).toBe(0);
    commit();
    await intake;
    expect(await workerSees(subscription)).toBe(1);
  });
});
