import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { AdminSession } from "../../../src/openstack/admin-session.js";
import { CloudClient } from "../../../src/openstack/cloud-client.js";
import { projectUsage } from "../../../src/openstack/project-usage.js";
import { CloudGuard, type TenantGuard } from "../../../src/provisioning/tenant-guard.js";
import { event, PREPAID } from "../../support/events.js";
import { FakeOpenStack } from "../../support/fake-openstack.js";
import { harness } from "../../support/harness.js";

const HOUR = 3_600_000;
const PROJECT = "project-of-sub-42";

let cloud: FakeOpenStack | undefined;
afterEach(async () => {
  await cloud?.stop();
  cloud = undefined;
});

/** One clock for Keystone and the service: tests move it instead of waiting for a token to expire. */
function clock() {
  let t = Date.parse("2026-11-28T12:00:00Z");
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

async function cloudWith(opts: ConstructorParameters<typeof FakeOpenStack>[1] = {}) {
  cloud = await new FakeOpenStack(PROJECT, { empty: true, ...opts }).start();
  return cloud;
}

function clientOf(c: FakeOpenStack, now: () => number, renewMarginMs?: number) {
  const creds = c.credentials();
  return new CloudClient(creds, fetch, { session: new AdminSession(creds, { now, ...(renewMarginMs === undefined ? {} : { renewMarginMs }) }) });
}

describe("the admin's Keystone token", () => {
  it("an hour after provisioning, a modify of the tenant still passes the guard: the token is replaced before it expires", async () => {
    const t = clock();
    const c = await cloudWith({ now: t.now });
    // The recorded cloud serves the usage reads of the guard's downsize check, which is what needs the token.
    const real = new CloudGuard(clientOf(c, t.now), { policy: "purge", pollMs: 5, timeoutMs: 5000 });
    // No earlier create left anything (the recorded cloud has no Keystone lookups by name to serve).
    const guard: TenantGuard = { beforeUp: (p, s) => real.beforeUp(p, s), beforeDestroy: (p, f) => real.beforeDestroy(p, f), leftoversOf: async () => ({}) };
    const h = await harness({ maxAttempts: 2, guard });
    // The recorded usage (test/fixtures/openstack): 12 cores, 24 GiB of RAM, 150 GB of volumes.
    const plan = { ...PREPAID, ramGb: 32, diskGb: 200 };
    await h.send(event("42", "subscription.created", { plan: { ...plan, cores: 16 } }));
    await h.reconciler.idle();
    await h.send(event("42", "subscription.modified", { plan: { ...plan, cores: 20 } }));
    await h.reconciler.idle();
    expect(await h.store.get("42")).toMatchObject({ phase: "ready", lastError: null });
    expect(c.logins).toBe(1);

    t.advance(HOUR); // Keystone's default [token] expiration: the first token is dead now
    await h.send(event("42", "subscription.modified", { plan: { ...plan, cores: 24 } }));
    await h.reconciler.idle();
    expect(await h.store.get("42")).toMatchObject({ phase: "ready", lastError: null });
    expect(h.engine.calls.at(-1)?.spec?.quotas.compute.cores).toBe(24);
    expect(c.logins).toBe(2);
    expect(c.refused).toBe(0); // renewed before the expiry, not after a refusal
  }, 120_000); // the harness's in-memory PGlite takes tens of seconds to start on a loaded machine

  it("is renewed a margin before Keystone's expires_at, and not earlier", async () => {
    const t = clock();
    const c = await cloudWith({ now: t.now });
    const client = clientOf(c, t.now, 5 * 60_000);
    await projectUsage(client, PROJECT);
    t.advance(HOUR - 5 * 60_000 - 1);
    await projectUsage(client, PROJECT);
    expect(c.logins).toBe(1);
    t.advance(2);
    await projectUsage(client, PROJECT);
    expect(c.logins).toBe(2);
    expect(c.refused).toBe(0);
  });

  it("a short-lived token is kept for at most half its life, whatever the margin", async () => {
    const t = clock();
    const c = await cloudWith({ now: t.now, tokenLifetimeMs: 60_000 }); // [token] expiration = 60
    const client = clientOf(c, t.now, 5 * 60_000);
    await projectUsage(client, PROJECT);
    t.advance(29_000);
    await projectUsage(client, PROJECT);
    expect(c.logins).toBe(1);
    t.advance(2_000);
    await projectUsage(client, PROJECT);
    expect(c.logins).toBe(2);
  });

  it("reads the expiry as a lifetime, so a Keystone whose clock is hours behind ours does not cause a login per call", async () => {
    const t = clock();
    const c = await cloudWith({ now: () => t.now() - 2 * HOUR });
    const client = clientOf(c, t.now);
    for (let i = 0; i < 3; i++) await projectUsage(client, PROJECT);
    expect(c.logins).toBe(1);
  });

  it("a token Keystone revoked early is replaced on the 401, and callers refused at once share one login", async () => {
    const c = await cloudWith();
    const client = new CloudClient(c.credentials());
    await projectUsage(client, PROJECT);
    c.revokeTokens();
    const usages = await Promise.all(Array.from({ length: 5 }, () => projectUsage(client, PROJECT)));
    expect(usages).toHaveLength(5);
    expect(c.logins).toBe(2);
    expect(c.refused).toBeGreaterThan(0);
  });

  it("a 401 right after a new login is not retried again: the caller sees Keystone's refusal", async () => {
    const c = await cloudWith();
    c.revokeOnIssue = true;
    const client = new CloudClient(c.credentials());
    await expect(client.request("compute", "GET", `/os-quota-sets/${PROJECT}/detail`, z.unknown())).rejects.toThrow(/compute answered 401/);
    expect(c.logins).toBe(2); // the first login, and one renewal after the 401
  });
});
