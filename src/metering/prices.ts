import { readFileSync } from "node:fs";
import { z } from "zod";
import { Decimal, type RoundingMode } from "./money.js";

const DecimalString = z
  .string()
  .regex(/^\d+(\.\d+)?$/, "a non-negative decimal written as a string, e.g. \"0.0125\" (never a float)");

const ResourcePrice = z.object({
  /** Price of one unit-hour (a core-hour, a GB-hour, an IP-hour). */
  unitPrice: DecimalString,
  /** Unit-hours per period not charged. */
  freeUnitHours: DecimalString.default("0"),
});

/**
 * The price file. `version` is recorded with every billing run so that a run can be reproduced with the
 * prices it used. Rounding happens once per invoice line, to `decimals` places, with `rounding`.
 */
export const PriceList = z.object({
  version: z.string().min(1),
  currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR"),
  decimals: z.number().int().min(0).max(6).default(2),
  rounding: z.enum(["half-even", "half-up", "half-down", "up", "down"]).default("half-even"),
  resources: z.object({ cores: ResourcePrice, ramGb: ResourcePrice, diskGb: ResourcePrice, floatingIps: ResourcePrice }).strict(),
});
export type PriceList = z.infer<typeof PriceList>;

export const ROUNDING: Record<PriceList["rounding"], RoundingMode> = {
  "half-even": Decimal.ROUND_HALF_EVEN,
  "half-up": Decimal.ROUND_HALF_UP,
  "half-down": Decimal.ROUND_HALF_DOWN,
  up: Decimal.ROUND_UP,
  down: Decimal.ROUND_DOWN,
};

export function readPriceList(path: string): PriceList {
  const raw: unknown = JSON.parse(readFileSync(path, "utf8"));
  return PriceList.parse(raw);
}
