import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { constantGnocchi } from "../../support/gnocchi-constant.js";
import { harness } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { PRICES } from "../../support/prices.js";
import { tenantctlAt } from "../../support/tenantctl.js";

let h: Awaited<ReturnType<typeof harness>>;
let server: Awaited<ReturnType<typeof listen>>;
const usage: Record<string, number> = { "project-of-sub-7": 2, "project-of-sub-8": 2 };
const { run: tenantctl } = tenantctlAt(() => server.url);

beforeAll(async () => {
  h = await harness({ billing: { gnocchi: () => constantGnocchi(usage), prices: PRICES } });
  server = await listen(h.app);
  for (const id of ["7", "8"]) await h.send(event(id, "subscription.created", { at: "2026-10-01T00:00:00Z", plan: { model: "payg" } }));
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
    usage["project-of-sub-7"] = 3;
    const rerated = await tenantctl(["bill", "--period", "2026-10", "--rerate"]);
    expect(rerated.status).toBe(0);
    expect(rerated.stdout).toMatch(/^re-rated 2026-10: run 2, 1 charges changed, 1 unchanged \(nothing issued for those\)$/m);
    expect(rerated.stdout).toMatch(/^7\s+reissued\s+v1 \d+\.\d\d\s+v2 \d+\.\d\d$/m);
    const invoices = await tenantctl(["invoices", "2"]);
    expect(invoices.stdout).toMatch(/^7\s+credit\s+cancels v1\s+\d+\.\d\d\s+EUR$/m);
    expect(invoices.stdout).toMatch(/^7\s+invoice\s+v2\s+\d+\.\d\d\s+EUR$/m);
    expect(invoices.stdout).not.toMatch(/^8\s/m);
    const never = await tenantctl(["bill", "--period", "2026-09", "--rerate"]);
    expect(never.status).toBe(2);
    expect(never.stderr).toContain("period 2026-09 was never billed");
  });
});
