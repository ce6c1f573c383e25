import { afterEach, describe, expect, it } from "vitest";
import { tenantSpecOf } from "../../../src/domain/tenant-spec.js";
import { EngineFailure } from "../../../src/provisioning/engine.js";
import type { TenantGuard } from "../../../src/provisioning/tenant-guard.js";
import { event, PREPAID } from "../../support/events.js";
import { harness, harnessWith } from "../../support/harness.js";
import { RecordingEngine } from "../../support/recording-engine.js";
import { SETTINGS } from "../../support/settings.js";

type H = Awaited<ReturnType<typeof harness>>;
const open: H[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});
async function track<T extends H>(h: Promise<T>): Promise<T> {
  const v = await h;
  open.push(v);
  return v;
}

/** A guard that refuses nothing and finds an interrupted create's leftovers in the double's Keystone. */
function guardOver(engine: RecordingEngine, extra: Partial<TenantGuard> = {}): TenantGuard {
  return {
    beforeUp: async () => null,
    beforeDestroy: async () => null,
    leftoversOf: async (spec) => engine.backend.keystone.get(spec.projectName) ?? {},
    ...extra,
  };
}

describe("the customer's password", () => {
  it("a second replica with its own work tree (no stacks/ file) applies an update without changing the password", async () => {
    const a = await track(harness());
    await a.send(event("51", "subscription.created"));
    await a.reconciler.idle();
    const first = (await a.engine.outputs("sub-51"))?.password;
    expect(first).toBeTruthy();
    await a.reconciler.stop();

    // Replica B: same database and Pulumi backend, a work tree of its own whose config knows nothing.
    const engineB = new RecordingEngine(a.engine.backend);
    const b = await track(harnessWith(engineB, { replicaOf: { db: a.db, pollMs: 50 } }));
    expect(engineB.config.get("sub-51")).toBeUndefined();
    await b.send(event("51", "subscription.modified", { plan: { ...PREPAID, cores: 12 } }));
    await b.reconciler.idle();
    expect((await b.store.get("51"))?.phase).toBe("ready");
    expect(engineB.calls.filter((c) => c.op === "up")).toHaveLength(1);
    expect((await engineB.outputs("sub-51"))?.password).toBe(first);
    expect(engineB.config.get("sub-51")?.password).toBe(first); // its local copy now holds the same one
    const [last] = await engineB.history("sub-51");
    expect(last?.resourceChanges).toEqual({ same: 5, update: 1 }); // the quota, not the user's password
  });

  it("rotate-password gives the customer a new password in one update named so in the history; the credentials follow", async () => {
    const h = await track(harness());
    const created = await h.send(event("52", "subscription.created"));
    const { credentialsToken } = (await created.json()) as { credentialsToken: string };
    await h.reconciler.idle();
    const creds = async () =>
      ((await (await h.app.request("/v1/subscriptions/52/credentials", { headers: { authorization: `Bearer ${credentialsToken}` } })).json()) as { password: string }).password;
    const before = await creds();
    const res = await h.asOperator("/v1/subscriptions/52/rotate-password", { method: "POST" });
    expect(res.status).toBe(202);
    await h.reconciler.idle();
    const after = await creds();
    expect(after).not.toBe(before);
    const [last] = await h.engine.history("sub-52");
    expect(last?.message).toMatch(/^password rotation by root \(subscription 52, generation 2; password rotated\)$/);
    expect(last?.resourceChanges).toEqual({ same: 4, update: 2 });
    // The next, unrelated update keeps the new password.
    await h.send(event("52", "subscription.suspended"));
    await h.reconciler.idle();
    expect(await creds()).toBe(after);
    // Nothing to rotate once cancelled.
    await h.send(event("52", "subscription.cancelled"));
    await h.reconciler.idle();
    expect((await h.asOperator("/v1/subscriptions/52/rotate-password", { method: "POST" })).status).toBe(409);
  });
});

describe("after a create interrupted mid-way", () => {
  const spec = tenantSpecOf({ id: "53", customer: { id: "c-7", name: "Example Ltd", email: "ops@example.com" }, plan: PREPAID, status: "active" } as never, SETTINGS);

  it("the next attempt adopts the project and user the dead run created: one of each, their ids in the outputs", async () => {
    const engine = new RecordingEngine();
    const h = await track(harnessWith(engine, { guard: guardOver(engine) }));
    await h.reconciler.stop();
    await h.send(event("53", "subscription.created"));
    const sub = await h.store.get("53");
    // The previous process began the create, the pulumi run created the project and user, then both died.
    await h.store.beginOperation("53", sub?.generation ?? 1, "up", "evt-dead", "gone-host:1:x");
    const left = engine.interruptCreate("sub-53", spec);
    h.reconciler.start();
    await h.reconciler.idle();
    const after = await h.store.get("53");
    expect(after?.phase).toBe("ready");
    expect(after?.outputs).toMatchObject({ projectId: left.projectId, userId: left.userId });
    expect([...engine.backend.keystone.keys()]).toEqual(["sub-53"]);
    expect(engine.callsFor("sub-53").map((c) => c.op)).toEqual(["adopt", "up"]);
    const [last] = await engine.history("sub-53");
    expect(last?.message).toMatch(new RegExp(`after interrupted operation \\d+; adopted project ${left.projectId}, user ${left.userId} left by it\\)$`));
  });

  it("a create whose answer was lost is retried, and the retry adopts what Keystone did create: one project, ready", async () => {
    const engine = new RecordingEngine();
    const h = await track(harnessWith(engine, { guard: guardOver(engine) }));
    engine.loseNextCreateAnswer("sub-55");
    await h.send(event("55", "subscription.created"));
    await h.reconciler.idle();
    const after = await h.store.get("55");
    expect(after).toMatchObject({ phase: "ready", lastError: null });
    const made = engine.backend.keystone.get("sub-55");
    expect(after?.outputs).toMatchObject({ projectId: made?.projectId, userId: made?.userId });
    expect([...engine.backend.keystone.keys()]).toEqual(["sub-55"]);
    // Not an interrupted operation: the first attempt ended (transient failure), the second adopted.
    expect(engine.callsFor("sub-55").map((c) => c.op)).toEqual(["up", "adopt", "up"]);
    const [last] = await engine.history("sub-55");
    expect(last?.message).toMatch(new RegExp(`; adopted project ${made?.projectId}, user ${made?.userId} left by an earlier attempt\\)$`));
  });

  it("a purchase's first attempt asks Keystone for no leftovers (none can exist); its retry after a failure does", async () => {
    const engine = new RecordingEngine();
    const asked: string[] = [];
    const guard = guardOver(engine);
    const h = await track(harnessWith(engine, { guard: { ...guard, leftoversOf: async (s) => {
      asked.push(s.projectName);
      return guard.leftoversOf(s);
    } } }));
    await h.send(event("56", "subscription.created"));
    await h.reconciler.idle();
    expect(await h.store.get("56")).toMatchObject({ phase: "ready" });
    expect(asked).toEqual([]);
    engine.loseNextCreateAnswer("sub-57");
    await h.send(event("57", "subscription.created"));
    await h.reconciler.idle();
    expect(await h.store.get("57")).toMatchObject({ phase: "ready" });
    expect(asked).toEqual(["sub-57"]);
  });

  it("a retry after an attempt whose update finished without its answer keeps the password that update applied", async () => {
    // The crash test's `pulumi` that outlives a killed service, or a create whose answer was lost after the
    // stack was saved: the stack holds the tenant and its password, the subscription records nothing.
    const engine = new RecordingEngine();
    const up = engine.up.bind(engine);
    let answers = 0;
    engine.up = async (req) => {
      const summary = await up(req);
      if (answers++ === 0) throw new EngineFailure(`error: Post "http://127.0.0.1:5000/v3/projects": EOF`, true);
      return summary;
    };
    const h = await track(harnessWith(engine, { guard: guardOver(engine) }));
    await h.send(event("58", "subscription.created"));
    await h.reconciler.idle();
    expect(await h.store.get("58")).toMatchObject({ phase: "ready", lastError: null });
    expect(engine.callsFor("sub-58").filter((c) => c.op === "up")).toHaveLength(2);
    // The second update applied the first one's password: the customer's credentials are the stack's.
    expect(engine.backend.passwordChanges.get("sub-58")).toBeUndefined();
  });

  it("without adoption the create runs again and Keystone refuses the name for good (what the double models)", async () => {
    const engine = new RecordingEngine();
    const h = await track(harnessWith(engine)); // no guard: nothing can look the leftovers up
    await h.reconciler.stop();
    await h.send(event("54", "subscription.created"));
    engine.interruptCreate("sub-54", { ...spec, subscriptionId: "54", projectName: "sub-54", userName: "sub-54" });
    h.reconciler.start();
    await h.reconciler.idle();
    expect(await h.store.get("54")).toMatchObject({ phase: "failed", lastError: expect.stringContaining("409") });
  });
});

describe("quotas the provider did not set", () => {
  it("are corrected in the cloud after the update, then read back into the state by a refresh named so", async () => {
    const engine = new RecordingEngine();
    const corrected: string[][] = [];
    const h = await track(harnessWith(engine, {
      guard: guardOver(engine, {
        // Neutron's create dropped floatingip 0 (terraform-provider-openstack v1.54.1): 50 stayed.
        afterUp: async (_project, s) => {
          const fix = s.quotas.network.floatingip === 0 && corrected.length === 0 ? ["network floatingip 50 -> 0"] : [];
          corrected.push(fix);
          return fix;
        },
      }),
    }));
    await h.send(event("55", "subscription.created", { plan: { ...PREPAID, floatingIps: 0 } }));
    await h.reconciler.idle();
    expect((await h.store.get("55"))?.phase).toBe("ready");
    expect(corrected).toEqual([["network floatingip 50 -> 0"]]);
    expect(engine.callsFor("sub-55").map((c) => c.op)).toEqual(["up", "refresh"]);
    expect(engine.callsFor("sub-55")[1]?.message).toMatch(/; quotas corrected: network floatingip 50 -> 0\)$/);
  });
});

describe("suspension", () => {
  it("after the update that disables the project and user, the tenant's servers are stopped; resumption starts them", async () => {
    const engine = new RecordingEngine();
    const power: Array<{ project: string; enabled: boolean }> = [];
    const h = await track(harnessWith(engine, {
      guard: guardOver(engine, { power: async (project, enabled) => {
        power.push({ project, enabled });
        return enabled ? ["server web-1 started"] : ["server web-1 stopped"];
      } }),
    }));
    await h.send(event("56", "subscription.created"));
    await h.reconciler.idle();
    // The purchase made the tenant: no server of its customer's can exist yet, so none is looked for.
    expect(power).toEqual([]);
    await h.send(event("56", "subscription.suspended"));
    await h.reconciler.idle();
    expect(engine.calls.filter((c) => c.op === "up").at(-1)?.spec?.enabled).toBe(false);
    expect(power.at(-1)).toEqual({ project: "project-of-sub-56", enabled: false });
    expect(h.logs.some((l) => l.includes('"msg":"server power"') && l.includes("server web-1 stopped"))).toBe(true);
    await h.send(event("56", "subscription.resumed"));
    await h.reconciler.idle();
    expect(power.at(-1)).toEqual({ project: "project-of-sub-56", enabled: true });
    expect((await h.store.get("56"))?.phase).toBe("ready");
  });
});
