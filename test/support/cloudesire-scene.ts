import type { CloudesireConfig } from "../../src/config.js";
import type { TenantGuard } from "../../src/provisioning/tenant-guard.js";
import { CloudesireSimulator } from "./cloudesire-simulator.js";
import type { Engine } from "../../src/provisioning/engine.js";
import type { Db } from "../../src/store/db.js";
import { harnessWith, type HarnessOptions } from "./harness.js";
import { RecordingEngine } from "./recording-engine.js";
import { listen } from "./local-server.js";

export const CD_TOKEN = "cd-vendor-token-0123456789";
export const CD_SECRET = "cd-event-secret-0123456789";

/**
 * The service (in-process, engine double, in-memory store) served over real HTTP on loopback, selling
 * through a Cloudesire simulator that notifies it over real HTTP too.
 */
type SceneOptions = {
  guard?: TenantGuard; paygPlans?: string[]; timeoutMs?: number; settings?: Partial<CloudesireConfig>; billing?: HarnessOptions["billing"]; tenant?: HarnessOptions["settings"];
  /** The same marketplace (a service restarted): notifications now go to this scene. */
  sim?: CloudesireSimulator;
  /** A new process on the database of an earlier scene (its rows kept). */
  replicaOf?: Db;
};

export function cloudesireScene(o: SceneOptions = {}) {
  return cloudesireSceneWith(new RecordingEngine(), o);
}

/** The same around any engine (the integration tests' engine applies to the test cloud's Keystone). */
export async function cloudesireSceneWith<E extends Engine>(engine: E, o: SceneOptions = {}) {
  const own = o.sim === undefined;
  const sim = o.sim ?? (await new CloudesireSimulator({ token: CD_TOKEN, secret: CD_SECRET }).start());
  const h = await harnessWith(engine, {
    cloudesire: { apiUrl: sim.url, token: CD_TOKEN, eventSecret: CD_SECRET, timeoutMs: o.timeoutMs ?? 2000, ...(o.paygPlans ? { paygPlans: o.paygPlans } : {}), ...o.settings },
    pollMs: 50,
    ...(o.guard ? { guard: o.guard } : {}),
    ...(o.billing ? { billing: o.billing } : {}),
    ...(o.tenant ? { settings: o.tenant } : {}),
    ...(o.replicaOf ? { replicaOf: { db: o.replicaOf, pollMs: 50 } } : {}),
  });
  const served = await listen(h.app);
  sim.target(served.url);
  h.reconciler.start();
  h.cloudesire.worker?.start();
  const close = async () => {
    await h.close();
    await served.close();
    if (own) await sim.stop();
  };
  return { sim, h, url: served.url, close };
}

/** Waits for `condition` (polled), failing with `what` after the deadline: no fixed sleeps. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Nothing left to do: no read wanted, no call pending, no reconcile job ready or running. A subscription
 * that failed for good is settled, but only once no operation runs: a change to a failed one (a new
 * generation) runs while its phase still says `failed` (seen on a loaded machine: the test read the
 * outbox before the new operation's DEPLOYED was queued).
 */
export async function settled(scene: { h: Awaited<ReturnType<typeof cloudesireSceneWith>>["h"] }, id: string): Promise<void> {
  await until(async () => {
    await scene.h.reconciler.idle();
    const rec = await scene.h.cloudesire.store.get(id);
    const open = (await scene.h.cloudesire.store.outboxOf(id)).filter((r) => r.state === "pending" || r.state === "sending");
    const sub = await scene.h.store.get(id);
    const busy = sub !== null && sub.generation > sub.appliedGeneration && sub.phase !== "failed" && sub.phase !== "held";
    return rec !== null && rec.wanted <= rec.synced && open.length === 0 && !busy && (await scene.h.queue.ready()) === 0;
  }, `subscription ${id} settled`);
}
