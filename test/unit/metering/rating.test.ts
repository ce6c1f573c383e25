import { describe, expect, it } from "vitest";
import { Decimal, MS_PER_HOUR } from "../../../src/metering/money.js";
import { DEFAULT_METERS, PriceList, type Invoice } from "../../../src/domain/billing.js";
import { invoicesCsv } from "../../../src/metering/billing-run.js";
import { rate, type Usage } from "../../../src/metering/rating.js";
import { PRICES } from "../../support/prices.js";

const usage = (hours: Partial<Record<keyof Usage, string>>): Usage => ({
  cores: new Decimal(hours.cores ?? "0").times(MS_PER_HOUR),
  ramGb: new Decimal(hours.ramGb ?? "0").times(MS_PER_HOUR),
  diskGb: new Decimal(hours.diskGb ?? "0").times(MS_PER_HOUR),
  floatingIps: new Decimal(hours.floatingIps ?? "0").times(MS_PER_HOUR),
});

describe("rating usage into an invoice", () => {
  it("one line per resource with quantity, unit price and amount, and a total", () => {
    const inv = rate("42", usage({ cores: "100", ramGb: "10", diskGb: "1000", floatingIps: "3" }), PRICES, DEFAULT_METERS);
    expect(inv.lines).toEqual([
      { resource: "cores", unit: "core-hour", quantity: "100.000000", freeUnitHours: "0", unitPrice: "0.0125", amount: "1.25" },
      { resource: "ramGb", unit: "GB-hour", quantity: "10.000000", freeUnitHours: "0", unitPrice: "0.004", amount: "0.04" },
      { resource: "diskGb", unit: "GB-hour", quantity: "1000.000000", freeUnitHours: "0", unitPrice: "0.00015", amount: "0.15" },
      { resource: "floatingIps", unit: "IP-hour", quantity: "3.000000", freeUnitHours: "0", unitPrice: "0.005", amount: "0.02" },
    ]);
    expect(inv).toMatchObject({ subscriptionId: "42", currency: "EUR", total: "1.46" });
  });

  it("rounds once per line, from the exact quantity (never per hour)", () => {
    // 1/3 hour × 1000 cores, priced 0.0125: 4.1666… → 4.17 once. Rounding per hour would give 0 × many.
    const u = usage({});
    u.cores = new Decimal(MS_PER_HOUR).div(3).times(1000);
    expect(rate("x", u, PRICES, DEFAULT_METERS).lines[0]?.amount).toBe("4.17");
  });

  it.each([
    ["half-even", "0.02"],
    ["half-up", "0.03"],
    ["down", "0.02"],
    ["up", "0.03"],
  ] as const)("rounding mode %s applies to a line of 0.025", (rounding, amount) => {
    const prices = { ...PRICES, rounding };
    expect(rate("x", usage({ floatingIps: "5" }), prices, DEFAULT_METERS).lines[3]?.amount).toBe(amount);
  });

  it("a free allowance is deducted before pricing, never below zero", () => {
    const prices = PriceList.parse({ ...PRICES, resources: { ...PRICES.resources, cores: { unitPrice: "0.0125", freeUnitHours: "40" } } });
    expect(rate("x", usage({ cores: "100" }), prices, DEFAULT_METERS).lines[0]?.amount).toBe("0.75");
    expect(rate("x", usage({ cores: "10" }), prices, DEFAULT_METERS).lines[0]?.amount).toBe("0.00");
  });

  it("the price file refuses floats: prices are decimal strings", () => {
    expect(PriceList.safeParse({ ...PRICES, resources: { ...PRICES.resources, cores: { unitPrice: 0.0125 } } }).success).toBe(false);
    expect(PriceList.safeParse({ ...PRICES, currency: "euro" }).success).toBe(false);
  });
});

describe("invoices as CSV", () => {
  const invoice = (subscriptionId: string, currency: string, unit: string): Invoice => ({
    subscriptionId, currency, total: "1.00",
    lines: [{ resource: "cores", unit, quantity: "1.000000", freeUnitHours: "0", unitPrice: "1", amount: "1.00" }],
  });

  it("a cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is neutralised with a leading ' and quoted (OWASP CSV injection)", () => {
    // OWASP "CSV Injection" (owasp.org/www-community/attacks/CSV_Injection) and CWE-1236: cells starting with
    // = + - @ tab or carriage return are formulas to Excel, LibreOffice Calc and Google Sheets.
    const csv = invoicesCsv("2026-10", [invoice("42", '=HYPERLINK("http://x","y")', "@SUM(A1)"), invoice("43", "+1", "-2"), invoice("44", "\tEUR", "\rcore")]);
    const rows = csv.trimEnd().split("\n");
    expect(rows[1]).toBe(`2026-10,42,cores,"'@SUM(A1)",1.000000,0,1,1.00,"'=HYPERLINK(""http://x"",""y"")",invoice,1`);
    expect(rows[3]).toBe(`2026-10,43,cores,"'-2",1.000000,0,1,1.00,"'+1",invoice,1`);
    expect(rows[5]).toBe(`2026-10,44,cores,"'\rcore",1.000000,0,1,1.00,"'\tEUR",invoice,1`);
    for (const row of rows) for (const cell of row.split(",")) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it("a carriage return inside a cell is quoted (it would end the row for some readers); plain cells stay bare", () => {
    const csv = invoicesCsv("2026-10", [invoice("42", "EUR", "core\rhour")]);
    expect(csv.split("\n")[1]).toBe(`2026-10,42,cores,"core\rhour",1.000000,0,1,1.00,EUR,invoice,1`);
  });
});
