import type { FleetSchedule } from "../provisioning/ports.js";
import type { Db } from "./db.js";

/**
 * Fleet-wide schedules (the drift sweep, the rollout tick): every replica's timer fires, and the one that
 * claims the run due moves the schedule's next run an interval on; the others find it not due and skip.
 * One atomic upsert decides (PostgreSQL re-checks the WHERE on the row it locked, so of replicas racing,
 * one wins), the way pg-boss 10 runs its own cron once across instances (src/timekeeper.js,
 * trySetCronTimeCommand). Not pg-boss schedules themselves: their cron has a minute's resolution
 * (singletonSeconds: 60), the rollout tick is a second and the drift interval any number of seconds.
 * Nothing is held between runs: a replica that dies simply stops claiming, and the next timer of another
 * takes the next run. The embedded database serves one process: it gets no schedule (every run is its own).
 * These are the schedules shared through the database by the replicas of one PostgreSQL.
 */
export function sharedSchedule(db: Pick<Db, "query">, owner: string): FleetSchedule {
  return {
    async claim(name, intervalMs) {
      // A timer firing a little early (timers and the database's clock are not one clock) still takes its
      // run: without the slack every replica could miss a run by a millisecond and leave a gap of two intervals.
      const slackMs = Math.min(intervalMs / 10, 1000);
      const rows = await db.query(
        `INSERT INTO fleet_schedules (name, due_at, owner) VALUES ($1, now() + make_interval(secs => $2 / 1000.0), $3)
         ON CONFLICT (name) DO UPDATE SET due_at = now() + make_interval(secs => $2 / 1000.0), owner = $3, claimed_at = now(), runs = fleet_schedules.runs + 1
           WHERE fleet_schedules.due_at <= now() + make_interval(secs => $4 / 1000.0)
         RETURNING name`,
        [name, intervalMs, owner, slackMs],
      );
      return rows.length === 1;
    },
  };
}
