import { describe, expect, it } from "vitest";
import { entitlement, planViolations } from "../../../src/domain/plan.js";
import { DEFAULT_QUOTA_DEFAULTS, quotaSetsFor } from "../../../src/domain/quota.js";

const limits = { maxCores: 64, maxRamGb: 256, maxDiskGb: 2000, maxFloatingIps: 16 };

describe("plans and quotas", () => {
  it("a prepaid plan's quotas are exactly what was bought (RAM in MB)", () => {
    const q = quotaSetsFor(entitlement({ model: "prepaid", cores: 8, ramGb: 16, diskGb: 200, floatingIps: 2 }, limits), DEFAULT_QUOTA_DEFAULTS);
    expect(q.compute.cores).toBe(8);
    expect(q.compute.ram).toBe(16 * 1024);
    expect(q.compute.instances).toBe(8);
    expect(q.blockStorage.gigabytes).toBe(200);
    expect(q.network.floatingip).toBe(2);
    expect(q.compute.floatingIps).toBe(2);
  });

  it("a PAYG plan gets the operator's ceilings", () => {
    const q = quotaSetsFor(entitlement({ model: "payg" }, limits), DEFAULT_QUOTA_DEFAULTS);
    expect(q.compute.cores).toBe(64);
    expect(q.compute.ram).toBe(256 * 1024);
    expect(q.blockStorage.gigabytes).toBe(2000);
    expect(q.network.floatingip).toBe(16);
  });

  it("no quota field is left at zero by default, so the tenant can use what it bought", () => {
    const q = quotaSetsFor({ cores: 1, ramGb: 1, diskGb: 1, floatingIps: 1 }, DEFAULT_QUOTA_DEFAULTS);
    for (const set of Object.values(q)) for (const v of Object.values(set)) expect(v === -1 || v > 0).toBe(true);
  });

  it("a plan above the operator's maximums is refused with the reasons", () => {
    expect(planViolations({ model: "prepaid", cores: 65, ramGb: 16, diskGb: 3000, floatingIps: 2 }, limits)).toEqual([
      "cores 65 exceeds the maximum of 64",
      "diskGb 3000 exceeds the maximum of 2000",
    ]);
    expect(planViolations({ model: "payg" }, limits)).toEqual([]);
  });
});
