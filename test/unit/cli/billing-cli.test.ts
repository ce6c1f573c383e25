import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Decimal } from "../../../src/metering/money.js";
import { event } from "../../support/events.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { harness } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { PRICES } from "../../support/prices.js";
import { TWO_TARGETS } from "../../support/settings.js";
import { tenantctlAt } from "../../support/tenantctl.js";

let h: Awaited<ReturnType<typeof harness>>;
let server: Awaited<ReturnType<typeof listen>>;
const usage: Record<string, number> = { "project-of-sub-7": 2, "project-of-sub-8": 2 };
const { run: tenantctl } = tenantctlAt(() => server.url);

beforeAll(async () => {
  // Sold in two targets: 7 in `one` (the default), 8 in `two`.
  h = await harness({ settings: TWO_TARGETS, billing: { gnocchi: () => constantGnocchi(usage), prices: PRICES } });
  server = await listen(h.app);
  await h.send(event("7", "subscription.created", { at: "2026-10-01T00:00:00Z", plan: { model: "payg" } }));
  await h.send(event("8", "subscription.created", { at: "2026-10-01T00:00:00Z", plan: { model: "payg", target: "two" } }));
  await h.reconciler.idle();
});
afterAll(async () => {
  await server.close();
  await h.close();
});

describe("tenantctl bill and invoices", () => {
  it("bill --rerate says which charges changed (versions and totals) and that the others got nothing; invoices shows the credit note and the new version", async () => {
    const billed = await tenantctl(["bill", "--period", "2026-10"]);
    expect(billed.stdout).toMatch(/^billed 2026-10: run 1, 2 invoices, total \d+\.\d\d EUR$/m);
    // The same usage in each target: the same charge, each half of the total (adding up exactly).
    const total = billed.stdout.match(/total (\d+\.\d\d) EUR$/m)?.[1];
    const perTarget = billed.stdout.match(/^ {2}target one: 1 invoices, total (\d+\.\d\d) EUR\n {2}target two: 1 invoices, total (\d+\.\d\d) EUR$/m);
    expect(perTarget?.[1]).toBe(perTarget?.[2]);
    expect(new Decimal(perTarget?.[1] ?? "0").times(2).toFixed(2)).toBe(total);
    usage["project-of-sub-7"] = 3;
    const rerated = await tenantctl(["bill", "--period", "2026-10", "--rerate"]);
    expect(rerated.status).toBe(0);
    expect(rerated.stdout).toMatch(/^re-rated 2026-10: run 2, 1 charges changed, 1 unchanged \(nothing issued for those\)$/m);
    expect(rerated.stdout).toMatch(/^7\s+reissued\s+v1 \d+\.\d\d\s+v2 \d+\.\d\d$/m);
    // Its totals per target are those of what it issued: the new version of 7's invoice, in `one`.
    const v2 = rerated.stdout.match(/^7\s+reissued\s+v1 \d+\.\d\d\s+v2 (\d+\.\d\d)$/m)?.[1];
    expect(rerated.stdout).toContain(`  target one: 1 invoices, total ${v2} EUR`);
    expect(rerated.stdout).not.toContain("target two");
    const invoices = await tenantctl(["invoices", "2"]);
    expect(invoices.stdout).toMatch(/^7\s+credit\s+cancels v1\s+\d+\.\d\d\s+EUR$/m);
    expect(invoices.stdout).toMatch(/^7\s+invoice\s+v2\s+\d+\.\d\d\s+EUR$/m);
    expect(invoices.stdout).not.toMatch(/^8\s/m);
    const never = await tenantctl(["bill", "--period", "2026-09", "--rerate"]);
    expect(never.status).toBe(2);
    expect(never.stderr).toContain("period 2026-09 was never billed");
  });
});
