import { describe, expect, it } from "vitest";
import { allocatable, capacityShortfalls, demandOf, physicalOf, sellableOf } from "../../../src/domain/capacity.js";
import { foldEvent } from "../../../src/domain/subscription.js";
import { inCanonicalTarget, tenantSpecOf, type TenantSettings } from "../../../src/domain/tenant-spec.js";
import { AppError } from "../../../src/domain/errors.js";
import { event, PREPAID } from "../../support/events.js";
import { SETTINGS } from "../../support/settings.js";

const at = (s: number) => new Date(Date.UTC(2026, 10, 1, 0, 0, s)).toISOString();

const TWO: TenantSettings = {
  ...SETTINGS,
  defaultTarget: "one",
  targets: {
    one: { name: "one", label: "Region one", region: "RegionOne", authUrl: "http://127.0.0.1:5000/v3", memberRole: "member" },
    two: { name: "two", label: "Region two", region: "RegionTwo", authUrl: "http://127.0.0.1:5000/v3", memberRole: "member" },
    far: { name: "far", label: "Another cloud", region: "RegionA", authUrl: "https://far.example/v3", memberRole: "_member_", cloud: "far" },
  },
};

describe("a subscription's target", () => {
  it("a plan that names no target is declared in the default target exactly as before targets existed", () => {
    const state = foldEvent(null, event("42", "subscription.created")).state;
    if (!state) throw new Error("no state");
    expect(tenantSpecOf(state, TWO)).toEqual(tenantSpecOf(state, SETTINGS));
    expect(tenantSpecOf(state, TWO)).not.toHaveProperty("target");
    expect(tenantSpecOf(state, TWO).region).toBe("RegionOne");
  });

  it("a plan in another target declares the tenant in that target's region, with the target named in the stack config", () => {
    const state = foldEvent(null, event("42", "subscription.created", { plan: { ...PREPAID, target: "two" } })).state;
    if (!state) throw new Error("no state");
    const spec = tenantSpecOf(state, TWO);
    expect(spec).toMatchObject({ target: "two", region: "RegionTwo" });
    expect(spec).not.toHaveProperty("cloud");
  });

  it("a target in another cloud names its clouds.yaml cloud, member role and Keystone URL in the spec", () => {
    const state = foldEvent(null, event("42", "subscription.created", { plan: { ...PREPAID, target: "far" } })).state;
    if (!state) throw new Error("no state");
    expect(tenantSpecOf(state, TWO)).toMatchObject({ target: "far", cloud: "far", region: "RegionA", memberRole: "_member_", authUrl: "https://far.example/v3" });
  });

  it("an event naming an unknown target is refused as bad input, naming the targets there are", () => {
    const e = event("42", "subscription.created", { plan: { ...PREPAID, target: "nowhere" } });
    expect(() => inCanonicalTarget(e, TWO)).toThrowError(AppError);
    try {
      inCanonicalTarget(e, TWO);
    } catch (err) {
      expect((err as AppError).kind).toBe("invalid");
      expect(JSON.stringify((err as AppError).detail)).toContain("one, two, far");
    }
  });

  it("naming the default target explicitly is the same plan as naming none", () => {
    const named = inCanonicalTarget(event("42", "subscription.created", { plan: { ...PREPAID, target: "one" } }), TWO);
    expect(named.subscription.plan).toEqual(PREPAID);
  });

  it("a newer event moving an active subscription to another target is rejected with a reason, the tenant unchanged", () => {
    const created = foldEvent(null, event("42", "subscription.created", { at: at(1) })).state;
    const moved = foldEvent(created, event("42", "subscription.modified", { at: at(2), plan: { ...PREPAID, cores: 8, target: "two" } }));
    expect(moved.outcome).toBe("rejected");
    expect(moved.outcome === "rejected" && moved.reason).toMatch(/is in target default: it cannot move to two/);
    expect(moved.state).toEqual(created);
  });

  it("a resize in the subscription's own target is applied, and stays there", () => {
    const created = foldEvent(null, event("42", "subscription.created", { at: at(1), plan: { ...PREPAID, target: "two" } })).state;
    const resized = foldEvent(created, event("42", "subscription.modified", { at: at(2), plan: { ...PREPAID, cores: 8, target: "two" } }));
    expect(resized.outcome).toBe("applied");
    expect(resized.state?.plan).toMatchObject({ cores: 8, target: "two" });
  });

  it("a cancellation is never refused for its plan's target, and the tenant stays where it is", () => {
    const created = foldEvent(null, event("42", "subscription.created", { at: at(1), plan: { ...PREPAID, target: "two" } })).state;
    const cancelled = foldEvent(created, event("42", "subscription.cancelled", { at: at(2), plan: PREPAID }));
    expect(cancelled.outcome).toBe("applied");
    expect(cancelled.state).toMatchObject({ status: "cancelled", plan: { target: "two" } });
  });
});

describe("capacity", () => {
  it("Placement's allocatable amount is (total - reserved) x allocation ratio, summed over providers", () => {
    expect(allocatable({ total: 16, reserved: 2, allocation_ratio: 4 })).toBe(56);
    const physical = physicalOf([
      { VCPU: { total: 16, reserved: 2, allocation_ratio: 4 }, MEMORY_MB: { total: 65536, reserved: 512, allocation_ratio: 1.5 } },
      { VCPU: { total: 8, reserved: 0, allocation_ratio: 1 }, DISK_GB: { total: 1000, reserved: 0, allocation_ratio: 1 } },
    ]);
    expect(physical).toEqual({ VCPU: 64, MEMORY_MB: 97536, DISK_GB: 1000 });
  });

  it("the selling policy multiplies what Placement allows, and by default sells no more than it", () => {
    const physical = { VCPU: 64, MEMORY_MB: 131072, DISK_GB: 1000 };
    expect(sellableOf(physical, {})).toEqual(physical);
    expect(sellableOf(physical, { VCPU: 1.5 })).toEqual({ ...physical, VCPU: 96 });
  });

  it("a plan larger than what is left to sell is refused with what is left and what was asked", () => {
    const sold = { VCPU: 60, MEMORY_MB: 0, DISK_GB: 0 };
    const sellable = { VCPU: 64, MEMORY_MB: 131072, DISK_GB: 1000 };
    const reasons = capacityShortfalls("two", demandOf({ ...PREPAID, cores: 8 }), sold, sellable);
    expect(reasons).toEqual(["two has 4 vCPUs left to sell, the plan asks for 8 vCPUs"]);
    expect(capacityShortfalls("two", demandOf({ ...PREPAID, cores: 4 }), sold, sellable)).toEqual([]);
  });

  it("a downgrade is never refused, even in a target sold past what is left", () => {
    const sellable = { VCPU: 8, MEMORY_MB: 8192, DISK_GB: 100 };
    const sold = { VCPU: 8, MEMORY_MB: 8192, DISK_GB: 100 };
    const current = demandOf({ ...PREPAID, cores: 16, ramGb: 32, diskGb: 500 });
    expect(capacityShortfalls("two", demandOf({ ...PREPAID, cores: 8, ramGb: 16, diskGb: 200 }), sold, sellable, current)).toEqual([]);
  });

  it("a pay-as-you-go plan sells nothing ahead", () => {
    expect(demandOf({ model: "payg" })).toEqual({ VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 });
  });
});
