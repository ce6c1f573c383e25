import { Decimal } from "../../src/metering/money.js";

// The wire as Cloudesire's Jackson writes it (base-api-client ObjectMapperFactory): see cloudesire-simulator.ts.

/** JSON written as is: a BigDecimal's digits (never through a float), or a body already written. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** `new BigDecimal(value).setScale(DAY_SCALE_PRECISION = 10, HALF_UP)` (SubscriptionBillingItemDTO, MathConfiguration). */
export function scale10(value: number | string): JsonText {
  return new JsonText(new Decimal(value).toDecimalPlaces(10, Decimal.ROUND_HALF_UP).toFixed(10));
}

/** JSON text as Jackson writes it: like JSON.stringify, but a JsonText is written as its own digits. */
export function wireJson(v: unknown): string {
  if (v instanceof JsonText) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => wireJson(x === undefined ? null : x)).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}:${wireJson(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** A java.util.Date as the platform's Jackson writes it (UTC, StdDateFormat with the colon in the offset). */
export function wireDate(ms: number | string): string {
  return new Date(ms).toISOString().replace("Z", "+00:00");
}
