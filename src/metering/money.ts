import { Decimal as DecimalJs } from "decimal.js";

/**
 * The one decimal type of billing: 40 significant digits, never floating point. Quantities are kept
 * exact (unit-milliseconds) and money is rounded once, per invoice line, at the end.
 */
export const Decimal = DecimalJs.clone({ precision: 40, rounding: DecimalJs.ROUND_HALF_EVEN });
export type Decimal = DecimalJs;
export type RoundingMode = DecimalJs.Rounding;

export const MS_PER_HOUR = 3_600_000;
