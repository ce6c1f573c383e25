import { DEFAULT_QUOTA_DEFAULTS } from "../../src/domain/quota.js";
import type { TenantSettings } from "../../src/domain/tenant-spec.js";

export const SETTINGS: TenantSettings = {
  domainId: "default",
  memberRole: "member",
  region: "RegionOne",
  authUrl: "http://127.0.0.1:5000/v3",
  limits: { maxCores: 64, maxRamGb: 256, maxDiskGb: 2000, maxFloatingIps: 16 },
  quotaDefaults: DEFAULT_QUOTA_DEFAULTS,
};

/** Selling in two regions of one cloud: `one` (the default, RegionOne) and `two` (RegionTwo). */
export const TWO_TARGETS: TenantSettings = {
  ...SETTINGS,
  defaultTarget: "one",
  targets: {
    one: { name: "one", label: "Milan", region: "RegionOne", authUrl: "http://127.0.0.1:5000/v3", memberRole: "member" },
    two: { name: "two", label: "Frankfurt", region: "RegionTwo", authUrl: "http://127.0.0.1:5000/v3", memberRole: "member" },
  },
};
