import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, missingForCloudesire } from "../../src/config.js";
import { PRICES } from "../support/prices.js";

// Each data directory is a new one of this file's own, all removed at the end.
const root = mkdtempSync(join(tmpdir(), "config-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = () => mkdtempSync(join(root, "config-"));
const base = () => ({ DATA_DIR: dataDir() });
const WEBHOOK_SECRET = "whsec-config-0123456789";

describe("configuration of secrets", () => {
  it("billing deliveries need their own BILLING_WEBHOOK_SECRET: the marketplace's key never leaves for the billing receiver", () => {
    expect(() => loadConfig({ ...base(), WEBHOOK_SECRET, BILLING_WEBHOOK_URL: "https://billing.example/runs" })).toThrow(/BILLING_WEBHOOK_URL needs BILLING_WEBHOOK_SECRET/);
    expect(() => loadConfig({ ...base(), WEBHOOK_SECRET, BILLING_WEBHOOK_URL: "https://billing.example/runs", BILLING_WEBHOOK_SECRET: WEBHOOK_SECRET })).toThrow(/must differ from WEBHOOK_SECRET/);
    const config = loadConfig({ ...base(), WEBHOOK_SECRET, BILLING_WEBHOOK_URL: "https://billing.example/runs", BILLING_WEBHOOK_SECRET: "billing-secret-0123456789" });
    expect(config.metering.delivery?.secret).toBe("billing-secret-0123456789");
    expect(config.secrets).toContain("billing-secret-0123456789");
    // Billing works without a marketplace secret at all.
    expect(loadConfig({ ...base(), BILLING_WEBHOOK_URL: "https://billing.example/runs", BILLING_WEBHOOK_SECRET: "billing-secret-0123456789" }).metering.delivery?.url).toBe("https://billing.example/runs");
  });

  it("WEBHOOK_SECRET_PREVIOUS is accepted next to WEBHOOK_SECRET only, and is a known secret (redacted)", () => {
    expect(() => loadConfig({ ...base(), WEBHOOK_SECRET_PREVIOUS: "whsec-previous-0123456789" })).toThrow(/WEBHOOK_SECRET_PREVIOUS needs WEBHOOK_SECRET/);
    expect(() => loadConfig({ ...base(), WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS: WEBHOOK_SECRET })).toThrow(/differ/);
    const config = loadConfig({ ...base(), WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS: "whsec-previous-0123456789" });
    expect(config.webhookSecretPrevious).toBe("whsec-previous-0123456789");
    expect(config.secrets).toContain("whsec-previous-0123456789");
  });

  it("TRUST_PROXY is off by default, else a number of hops or the proxies' addresses and CIDRs; anything else stops the start", () => {
    expect(loadConfig(base()).trustProxy).toEqual({ kind: "off" });
    expect(loadConfig({ ...base(), TRUST_PROXY: "2" }).trustProxy).toEqual({ kind: "hops", hops: 2 });
    expect(loadConfig({ ...base(), TRUST_PROXY: "10.0.0.0/8, 192.168.1.7,fd00::/8" }).trustProxy).toEqual({ kind: "addresses", addresses: ["10.0.0.0/8", "192.168.1.7", "fd00::/8"] });
    expect(() => loadConfig({ ...base(), TRUST_PROXY: "10.0.0.0/33" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base(), TRUST_PROXY: "yes" })).toThrow(/TRUST_PROXY/);
  });

  it("the customer token key is generated once into the data directory (mode 600), or read from CUSTOMER_TOKEN_KEY", () => {
    const dir = dataDir();
    const key = loadConfig({ DATA_DIR: dir }).customerTokenKey;
    expect(key.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ DATA_DIR: dir }).customerTokenKey).toBe(key);
    expect(loadConfig({ DATA_DIR: dir, CUSTOMER_TOKEN_KEY: "k".repeat(32) }).customerTokenKey).toBe("k".repeat(32));
    expect(() => loadConfig({ DATA_DIR: dir, CUSTOMER_TOKEN_KEY: "short" })).toThrow(/CUSTOMER_TOKEN_KEY/);
    expect(loadConfig({ DATA_DIR: dir }).secrets).toContain(key);
  });

  it("selling on Cloudesire with a price list in a currency other than EUR or USD stops the start", () => {
    const prices = (currency: string) => {
      const file = join(dataDir(), "prices.json");
      writeFileSync(file, JSON.stringify({ ...PRICES, currency }));
      return file;
    };
    const cloudesire = { CLOUDESIRE_API_URL: "https://backend.marketplace.example/api", CLOUDESIRE_TOKEN: "cd-token-0123456789" };
    expect(() => loadConfig({ ...base(), ...cloudesire, PRICES_FILE: prices("GBP") })).toThrow("PRICES_FILE is in GBP: Cloudesire takes invoices in EUR or USD only");
    expect(loadConfig({ ...base(), ...cloudesire, PRICES_FILE: prices("USD") }).metering.prices?.currency).toBe("USD");
    // Not selling on Cloudesire: any ISO currency.
    expect(loadConfig({ ...base(), PRICES_FILE: prices("GBP") }).metering.prices?.currency).toBe("GBP");
  });

  it("a Cloudesire notification secret longer than the 64 characters a product can hold stops the start; selling without product ids is reported missing", () => {
    // SyndicationEndpointDTO.secret is @Size(max = 64) (ClouDesire/java-api-client): a longer one never matches what Cloudesire signs with.
    expect(() => loadConfig({ ...base(), CLOUDESIRE_EVENT_SECRET: "s".repeat(65) })).toThrow(/CLOUDESIRE_EVENT_SECRET.*64/);
    expect(loadConfig({ ...base(), CLOUDESIRE_EVENT_SECRET: "s".repeat(64) }).cloudesire.eventSecret).toHaveLength(64);
    const selling = loadConfig({ ...base(), CLOUDESIRE_API_URL: "https://backend.marketplace.example/api", CLOUDESIRE_TOKEN: "cd-token-0123456789", CLOUDESIRE_EVENT_SECRET: "s".repeat(20) });
    expect(missingForCloudesire(selling.cloudesire)).toEqual([expect.stringMatching(/^CLOUDESIRE_PRODUCT_IDS is not set/), expect.stringMatching(/^CLOUDESIRE_DASHBOARD_URL/)]);
    expect(missingForCloudesire({ ...selling.cloudesire, productIds: ["12"], dashboardUrl: "https://dashboard.example" })).toEqual([]);
  });

  it("a config error is one line", () => {
    const dir = dataDir();
    writeFileSync(join(dir, "operator-token"), "abc\n", { mode: 0o600 });
    try {
      loadConfig({ DATA_DIR: dir, BILLING_WEBHOOK_URL: "https://billing.example/runs" });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).not.toContain("\n");
    }
  });
});

describe("configuration of targets", () => {
  const OS = { OS_AUTH_URL: "http://127.0.0.1:5000/v3", OS_USERNAME: "admin", OS_PASSWORD: "admin-pw-0123456789", OS_PROJECT_NAME: "admin", OS_REGION_NAME: "RegionOne" };

  it("without TARGETS_FILE there is one target, `default`: today's cloud and region, credentials untouched", () => {
    const config = loadConfig({ ...base(), ...OS });
    expect(config.targets.map((t) => t.placement)).toEqual([{ name: "default", label: "default", region: "RegionOne", authUrl: OS.OS_AUTH_URL, memberRole: "member" }]);
    expect(config.targets[0]?.credentials).toEqual(config.openstack.credentials);
    expect(config.tenant.defaultTarget).toBe("default");
  });

  it("TARGETS_FILE names regions of the default cloud and clouds of a clouds.yaml, each completed from the default configuration", () => {
    const dir = dataDir();
    const clouds = join(dir, "clouds.yaml");
    writeFileSync(clouds, "clouds:\n  far:\n    auth:\n      auth_url: https://far.example/v3\n      username: far-admin\n      password: far-pw-0123456789\n      project_name: admin\n    region_name: FarOne\n");
    const file = join(dir, "targets.yaml");
    writeFileSync(file, "default: one\ntargets:\n  - name: one\n  - name: two\n    region: RegionTwo\n    selling: { VCPU: 2 }\n  - name: far\n    cloud: far\n");
    const config = loadConfig({ ...base(), ...OS, TARGETS_FILE: file, OS_CLIENT_CONFIG_FILE: clouds });
    expect(config.targets.map((t) => [t.placement.name, t.placement.region, t.placement.cloud ?? null, t.credentials.ok && t.credentials.credentials.regionName])).toEqual([
      ["one", "RegionOne", null, "RegionOne"], ["two", "RegionTwo", null, "RegionTwo"], ["far", "FarOne", "far", "FarOne"],
    ]);
    expect(config.targets[1]?.selling).toEqual({ VCPU: 2 });
    expect(config.targets[2]?.placement.authUrl).toBe("https://far.example/v3");
    expect(config.secrets).toContain("far-pw-0123456789");
    expect(Object.keys(config.tenant.targets ?? {})).toEqual(["one", "two", "far"]);
  });

  it("a TARGETS_FILE that lists a target twice or a default it does not list stops the start with the reason", () => {
    const dir = dataDir();
    const file = join(dir, "targets.yaml");
    writeFileSync(file, "default: three\ntargets:\n  - name: one\n  - name: one\n");
    expect(() => loadConfig({ ...base(), ...OS, TARGETS_FILE: file })).toThrow(/listed twice.*default target 'three' is not listed|default target 'three' is not listed/);
  });
});

describe("how many stack operations run at once", () => {
  it("by default one per core this process may use, and two at least (a purchase's slot beside bulk work's); RECONCILE_CONCURRENCY overrides it", () => {
    const cores = availableParallelism();
    expect(loadConfig(base()).reconcile.concurrency).toBe(Math.max(2, cores));
    expect(loadConfig(base()).reconcile.bulkSlots).toBe(Math.max(2, cores) - 1);
    expect(loadConfig({ ...base(), RECONCILE_CONCURRENCY: "6" }).reconcile.concurrency).toBe(6);
  });
});
