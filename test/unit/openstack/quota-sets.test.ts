import { describe, expect, it } from "vitest";
import { quotaSetsFor, DEFAULT_QUOTA_DEFAULTS } from "../../../src/domain/quota.js";
import { describeDifference, fromApi, QUOTA_API_FIELDS, quotaDifferences, toApi } from "../../../src/openstack/quota-sets.js";
import { PROVIDER_QUOTA_RESOURCES, attributeOf } from "../../support/provider-quota-calls.js";

const quotas = quotaSetsFor({ cores: 8, ramGb: 16, diskGb: 200, floatingIps: 0 }, DEFAULT_QUOTA_DEFAULTS);

describe("the quota sets' names in the APIs", () => {
  it("are the provider's attribute names: our field, snake_cased as tfbridge does, for every field", () => {
    const provider = { compute: "openstack:compute/quotaSetV2:QuotaSetV2", blockStorage: "openstack:blockstorage/quoteSetV3:QuoteSetV3", network: "openstack:networking/quotaV2:QuotaV2" } as const;
    for (const s of ["compute", "blockStorage", "network"] as const) {
      const names = QUOTA_API_FIELDS[s] as Record<string, string>;
      expect(Object.entries(names).map(([ours, api]) => [attributeOf(ours), api])).toEqual(Object.values(names).map((api) => [api, api]));
      expect(Object.values(names).sort()).toEqual([...(PROVIDER_QUOTA_RESOURCES[provider[s]]?.attributes ?? [])].sort());
    }
  });

  it("round-trip: ours to the API's body and back, extra keys of the API ignored", () => {
    const body = { ...toApi("blockStorage", quotas.blockStorage), id: "p", volumes___DEFAULT__: -1 };
    expect(body).toMatchObject({ backup_gigabytes: 200, per_volume_gigabytes: -1 });
    expect(fromApi("blockStorage", body)).toEqual(quotas.blockStorage);
  });

  it("a body missing a field, or with a value that is not a limit, is an upstream error naming both names", () => {
    const { floatingip: _dropped, ...rest } = toApi("network", quotas.network);
    expect(() => fromApi("network", rest)).toThrow(/floatingip \(floatingip\)/);
    expect(() => fromApi("compute", { ...toApi("compute", quotas.compute), ram: "16384" })).toThrow(/ram \(ram\)/);
    expect(() => fromApi("compute", { ...toApi("compute", quotas.compute), key_pairs: -2 })).toThrow(/keyPairs \(key_pairs\)/);
  });

  it("differences are listed as corrections in our names, nothing when equal", () => {
    expect(quotaDifferences("network", quotas.network, quotas.network)).toEqual([]);
    const diffs = quotaDifferences("network", quotas.network, { ...quotas.network, floatingip: 50 });
    expect(diffs.map(describeDifference)).toEqual(["network floatingip 50 -> 0"]);
  });
});

describe("the provider's create bodies (terraform-provider-openstack v1.54.1), as the contract engine replays them", () => {
  const body = (type: string, declared: Record<string, number>) => PROVIDER_QUOTA_RESOURCES[type]?.createBody(declared);
  it("Neutron: zero values are not sent (d.GetOk), security_group_rule follows security_group's stale `ok`", () => {
    const network = "openstack:networking/quotaV2:QuotaV2";
    expect(body(network, { floatingip: 0, network: 10, security_group: 10, security_group_rule: 0, subnet: 0 })).toEqual({ network: 10, security_group: 10, security_group_rule: 0 });
    expect(body(network, { floatingip: 2, security_group: 0, security_group_rule: 100 })).toEqual({ floatingip: 2 });
  });

  it("Nova keeps explicit zeros (d.GetOkExists); Cinder sends every attribute, unset as 0 (d.Get)", () => {
    expect(body("openstack:compute/quotaSetV2:QuotaSetV2", { floating_ips: 0, cores: 2 })).toEqual({ floating_ips: 0, cores: 2 });
    expect(body("openstack:blockstorage/quoteSetV3:QuoteSetV3", { gigabytes: 10 })).toEqual({ volumes: 0, snapshots: 0, gigabytes: 10, per_volume_gigabytes: 0, backups: 0, backup_gigabytes: 0, groups: 0 });
  });
});
