import type { PriceList } from "../../src/domain/billing.js";

export const PRICES: PriceList = {
  version: "test-2026-10",
  currency: "EUR",
  decimals: 2,
  rounding: "half-even",
  resources: {
    cores: { unitPrice: "0.0125", freeUnitHours: "0" },
    ramGb: { unitPrice: "0.004", freeUnitHours: "0" },
    diskGb: { unitPrice: "0.00015", freeUnitHours: "0" },
    floatingIps: { unitPrice: "0.005", freeUnitHours: "0" },
  },
};
