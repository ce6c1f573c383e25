import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
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
