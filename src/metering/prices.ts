import type { PriceList } from "../domain/billing.js";
import { Decimal, type RoundingMode } from "./money.js";

/** The price list's rounding modes (domain/billing.ts PriceList) as decimal.js's. */
export const ROUNDING: Record<PriceList["rounding"], RoundingMode> = {
  "half-even": Decimal.ROUND_HALF_EVEN,
  "half-up": Decimal.ROUND_HALF_UP,
  "half-down": Decimal.ROUND_HALF_DOWN,
  up: Decimal.ROUND_UP,
  down: Decimal.ROUND_DOWN,
};
