import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudesireSubscription, DeploymentStatus } from "../../../src/marketplaces/cloudesire/contract.js";
import { eventOfReading, readingOf, type CloudesireProduct } from "../../../src/marketplaces/cloudesire/mapping.js";
import { foldEvent, type DesiredState } from "../../../src/domain/subscription.js";
import { cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";
import { SETTINGS } from "../../support/settings.js";

const PRODUCT: CloudesireProduct = { items: { cores: "CPU_CORES", ramGb: "RAM_GB", diskGb: "DISK_GB", floatingIps: "IP_ADDRESSES" }, paygPlans: [], productIds: [], limits: SETTINGS.limits };

/** What Cloudesire may say about a subscription over its life (a termination is final there too). */
const SimState = fc.record({
  ds: fc.constantFrom<DeploymentStatus>("PENDING", "DEPLOYED", "STOPPED", "WAITING_PAYMENT", "UNDEPLOY_SENT"),
  paid: fc.boolean(),
  cores: fc.integer({ min: 1, max: 64 }),
});
type SimState = { ds: DeploymentStatus; paid: boolean; cores: number };
const lifeOf = (states: SimState[]) => {
  const end = states.findIndex((s) => s.ds === "UNDEPLOY_SENT");
  return end < 0 ? states : states.slice(0, end + 1);
};

const subscriptionOf = (s: SimState): CloudesireSubscription => ({
  id: 5, name: "VDC", paid: s.paid, deploymentStatus: s.ds, type: "NORMAL", buyer: { url: "user/9" }, productVersion: { url: "productVersion/77" },
  billingItems: [["CPU_CORES", s.cores], ["RAM_GB", 4], ["DISK_GB", 50], ["IP_ADDRESSES", 1]].map(([identifier, value]) => ({ identifier: String(identifier), value: Number(value) })),
});

describe("converging on Cloudesire's current state", () => {
  it("property: reads folded in the order they were made end in the state of the last read, whatever the clocks of the readers", () => {
    fc.assert(
      fc.property(fc.array(SimState, { minLength: 1, maxLength: 14 }), fc.array(fc.integer({ min: -5_000, max: 5_000 }), { minLength: 14, maxLength: 14 }), (raw, skews) => {
        const states = lifeOf(raw);
        const seen: { current: DesiredState | null; last: { status: string; cores: number | null } | null } = { current: null, last: null };
        states.forEach((s, i) => {
          const reading = readingOf(subscriptionOf(s), { id: 9, email: "a@example.com" }, false, PRODUCT);
          if (reading.kind !== "converge") return;
          // Replicas' clocks disagree by seconds: a later read may carry an earlier wall-clock time.
          const event = eventOfReading({ id: "5", read: i + 1, readAtMs: Date.UTC(2026, 10, 1) + i * 10 + (skews[i] ?? 0), reading, current: seen.current });
          if (!event) return;
          const folded = foldEvent(seen.current, event);
          if (folded.outcome === "applied") seen.current = folded.state;
          seen.last = { status: reading.status, cores: reading.plan?.model === "prepaid" ? reading.plan.cores : null };
        });
        if (!seen.last) {
          expect(seen.current).toBeNull();
          return;
        }
        expect(seen.current?.status).toBe(seen.last.status);
        if (seen.last.cores !== null) expect(seen.current?.plan).toMatchObject({ cores: seen.last.cores });
      }),
      { numRuns: 300 },
    );
  });

  describe("over real HTTP, notifications in any order", { timeout: 300_000 }, () => {
    let scene: Awaited<ReturnType<typeof cloudesireScene>>;
    beforeAll(async () => {
      scene = await cloudesireScene();
    }, 300_000);
    afterAll(async () => scene.close());

    it("property: any sequence of subscription states, notified in any order and any number of times, ends in the state of the last one read", async () => {
      let next = 100;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ ds: fc.constantFrom<DeploymentStatus>("DEPLOYED", "STOPPED"), cores: fc.integer({ min: 1, max: 16 }) }), { minLength: 1, maxLength: 5 }),
          fc.array(fc.constantFrom<"CREATED" | "MODIFIED">("CREATED", "MODIFIED"), { minLength: 1, maxLength: 4 }),
          fc.integer({ min: 0, max: 1000 }),
          async (states, kinds, seed) => {
            const { sim, h } = scene;
            const id = next++;
            sim.order(id, { type: "TRIAL" });
            await sim.notify(id, "CREATED");
            await until(() => sim.patches.some((p) => p.subscription === id), `DEPLOYED of ${id}`);
            // Cloudesire changes while notifications about it arrive late, shuffled and repeated.
            const pending: Array<Promise<void>> = [];
            states.forEach((s, i) => {
              sim.set(id, { deploymentStatus: s.ds });
              sim.setQuantities(id, { CPU_CORES: s.cores, RAM_GB: 4, DISK_GB: 50, IP_ADDRESSES: 1 });
              const order = kinds.map((k, j) => ({ k, key: (seed * 31 + i * 7 + j * 13) % 17 })).sort((a, b) => a.key - b.key);
              for (const { k } of order) pending.push(sim.notify(id, k));
            });
            await Promise.all(pending);
            await settled(scene, String(id));
            const final = states.at(-1)!;
            const spec = h.engine.callsFor(`sub-${id}`).filter((c) => c.op === "up").at(-1)?.spec;
            expect(spec?.enabled).toBe(final.ds === "DEPLOYED");
            expect(spec?.quotas.compute.cores).toBe(final.cores);
            expect(sim.callsTo("POST", new RegExp(`^subscription/${id}/credentials$`))).toHaveLength(1);
          },
        ),
        { numRuns: 5 },
      );
    });
  });
});
