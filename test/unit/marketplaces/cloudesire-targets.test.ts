import { afterEach, describe, expect, it } from "vitest";
import { CloudesireSubscription } from "../../../src/marketplaces/cloudesire/contract.js";
import { readingOf, validateOrder, type CloudesireProduct } from "../../../src/marketplaces/cloudesire/mapping.js";
import type { PlacementReading } from "../../../src/provisioning/capacity.js";
import { event, PREPAID } from "../../support/events.js";
import { CLOUDESIRE_DEFAULTS, harness } from "../../support/harness.js";
import { SETTINGS, TWO_TARGETS } from "../../support/settings.js";

const PRODUCT: CloudesireProduct = {
  items: { cores: "CPU_CORES", ramGb: "RAM_GB", diskGb: "DISK_GB", floatingIps: "IP_ADDRESSES" }, paygPlans: ["88"], productIds: ["12"], limits: SETTINGS.limits,
  target: { code: "REGION", targets: ["one", "two"], defaultTarget: "one" },
};

/**
 * A subscription as Cloudesire serves it: SubscriptionDetailDTO's `configurationParameters` is a
 * `List<SubscriptionConfigurationParameterDTO>` (configurationParameter link, code, value, description).
 */
const subscription = (region: string | undefined) => CloudesireSubscription.parse({
  id: 5, name: "VDC", paid: true, deploymentStatus: "PENDING", type: "NORMAL", buyer: { url: "user/9" }, product: { url: "product/12" }, productVersion: { url: "productVersion/77" },
  billingItems: [["CPU_CORES", 4], ["RAM_GB", 8], ["DISK_GB", 50], ["IP_ADDRESSES", 1]].map(([identifier, value]) => ({ identifier, value })),
  configurationParameters: [
    { configurationParameter: { url: "configurationParameter/40" }, code: "OTHER", value: "x", description: null },
    ...(region === undefined ? [] : [{ configurationParameter: { url: "configurationParameter/31" }, code: "REGION", value: region, description: "the region" }]),
  ],
});
const ORDER = { productId: 12, productVersionId: 77, billingItems: { CPU_CORES: 8, RAM_GB: 16, DISK_GB: 200, IP_ADDRESSES: 2 }, orderType: "NORMAL" };

describe("the target a Cloudesire customer buys in (a product configuration parameter)", () => {
  it("a subscription's chosen region is its plan's target; the default target's name, or none chosen, is the default", () => {
    const plan = (region: string | undefined) => {
      const r = readingOf(subscription(region), null, false, PRODUCT);
      return r.kind === "converge" ? r.plan : r;
    };
    expect(plan("two")).toMatchObject({ model: "prepaid", cores: 4, target: "two" });
    expect(plan("one")).not.toHaveProperty("target");
    expect(plan(undefined)).not.toHaveProperty("target");
  });

  it("a region this service does not sell in is refused with the customer's reason, in their language", () => {
    const r = readingOf(subscription("mars"), null, false, PRODUCT);
    expect(r).toMatchObject({ kind: "invalid", reasons: { en: expect.stringContaining('"mars" is not a region this service sells in (it sells in: one, two)'), it: expect.stringContaining("non è una regione") } });
    expect(validateOrder({ ...ORDER, configurationParameters: { REGION: "mars" }, language: "it" }, PRODUCT)).toEqual([expect.stringContaining('"mars" non è una regione')]);
  });
});

describe("Cloudesire's order validation and parameter values, against each target's capacity", () => {
  const TARGETS = TWO_TARGETS;
  const SMALL: PlacementReading = { physical: { VCPU: 16, MEMORY_MB: 65536, DISK_GB: 1000 }, used: { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 }, providers: 1 };
  let h: Awaited<ReturnType<typeof harness>>;
  afterEach(async () => {
    await h.reconciler.stop();
    await h.close();
  });
  const post = (path: string, body: unknown) => h.app.request(`/v1/cloudesire/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("an order larger than what its region has left is refused before it is placed; the same order in another region is accepted", async () => {
    h = await harness({
      settings: TARGETS,
      cloudesire: { ...CLOUDESIRE_DEFAULTS, apiUrl: "http://127.0.0.1:9/api", token: "t", eventSecret: "cd-event-secret-0123456789", targetParameter: "REGION" },
      targets: { capacity: ["one", "two"].map((name) => ({ name, selling: {}, placement: async () => (name === "two" ? SMALL : { ...SMALL, physical: { VCPU: 1000, MEMORY_MB: 4_096_000, DISK_GB: 100_000 } }) })) },
    });
    await h.send(event("70", "subscription.created", { plan: { ...PREPAID, cores: 12, target: "two" } }));
    const refused = await post("order-validation", { ...ORDER, configurationParameters: { REGION: "two" } });
    expect(refused.status).toBe(200);
    expect(await refused.json()).toEqual({ errors: [{ message: "two has 4 vCPUs left to sell, the plan asks for 8 vCPUs" }] });
    expect((await post("order-validation", { ...ORDER, configurationParameters: { REGION: "one" } })).status).toBe(204);

    // The values offered for the parameter: the regions that can still host a plan, in order, with their labels.
    const values = async () => (await (await post("configuration-parameter-values", { productId: 1, productVersionId: 77, configurationParameter: "REGION", configurationParameters: {}, language: "en" })).json()) as unknown;
    expect(await values()).toEqual({ values: [{ value: "one", description: "Milan" }, { value: "two", description: "Frankfurt" }] });
    await h.send(event("71", "subscription.created", { plan: { ...PREPAID, cores: 4, target: "two" } }));
    expect(await values()).toEqual({ values: [{ value: "one", description: "Milan" }] });
    // Another parameter of the product is not ours: any value.
    expect(await (await post("configuration-parameter-values", { configurationParameter: "OTHER" })).json()).toEqual({ values: null });
  });
});
