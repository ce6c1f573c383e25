import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { tenantctlAt } from "../../support/tenantctl.js";

/** tenantctl on a fleet longer than a page (250 subscriptions; the service answers 100 per page by default). */
let h: Awaited<ReturnType<typeof harness>>;
let server: Awaited<ReturnType<typeof listen>>;
const { run: tenantctl } = tenantctlAt(() => server.url);
const ids = Array.from({ length: 250 }, (_, i) => `f${String(i + 1).padStart(4, "0")}`);
const rowsOf = (stdout: string) => stdout.trim().split("\n").slice(1).map((l) => l.split(/\s+/)[0] ?? "");

beforeAll(async () => {
  h = await harness();
  server = await listen(h.app);
  await h.store.intakeBatch(ids.map((id) => ({ event: event(id, "subscription.created") })));
  // As the reconciler would leave them: every other one ready.
  await h.db.query(`UPDATE subscriptions SET phase = 'ready' WHERE id = ANY($1::text[])`, [ids.filter((_, i) => i % 2 === 0)]);
  for (const id of ids.slice(0, 120)) await h.driftStore.record(id, []);
});
afterAll(async () => {
  await server.close();
  await h.close();
});

describe("tenantctl pages through long lists", () => {
  it("list prints the whole fleet by default, one table, following the pages", async () => {
    const t = await tenantctl(["list"]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout.split("\n")[0]).toMatch(/^ID\s+STACK\s+STATUS\s+PHASE\s+PLAN/);
    expect(rowsOf(t.stdout)).toEqual(ids);
    expect(t.stderr).toBe("");
    const ready = JSON.parse((await tenantctl(["list", "--phase", "ready", "--json"])).stdout) as { subscriptions: Array<{ id: string }> };
    expect(ready.subscriptions.map((s) => s.id)).toEqual(ids.filter((_, i) => i % 2 === 0));
  });

  it("list --limit prints one page and the command of the next; following it to the end shows each once", async () => {
    const seen: string[] = [];
    let args = ["list", "--phase", "ready", "--limit", "50"];
    for (let i = 0; i < 10; i++) {
      const t = await tenantctl(args);
      expect(t.status, t.stderr).toBe(0);
      seen.push(...rowsOf(t.stdout));
      const next = t.stderr.match(/^more: tenantctl (.+)$/m)?.[1];
      if (!next) {
        expect(t.stderr).toBe("(last page)\n");
        break;
      }
      expect(next).toMatch(/^list --phase ready --limit 50 --cursor \S+$/);
      args = next.split(" ");
    }
    expect(seen).toEqual(ids.filter((_, i) => i % 2 === 0));
    const page = JSON.parse((await tenantctl(["list", "--limit", "3", "--json"])).stdout) as { subscriptions: Array<{ id: string }>; nextCursor: string };
    expect(page.subscriptions.map((s) => s.id)).toEqual(ids.slice(0, 3));
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it("drift pages the same way; a bad --limit or a cursor of another filter exits 2 with the reason", async () => {
    const all = await tenantctl(["drift"]);
    expect(rowsOf(all.stdout)).toEqual(ids.slice(0, 120));
    const one = await tenantctl(["drift", "--limit", "100"]);
    expect(rowsOf(one.stdout)).toEqual(ids.slice(0, 100));
    const cursor = one.stderr.match(/--cursor (\S+)/)?.[1] as string;
    expect(rowsOf((await tenantctl(["drift", "--cursor", cursor])).stdout)).toEqual(ids.slice(100, 120));
    const wrongFilter = await tenantctl(["drift", "--state", "drifted", "--cursor", cursor]);
    expect(wrongFilter.status).toBe(2);
    expect(wrongFilter.stderr).toMatch(/^tenantctl: 422 cursor refused: made for no filter, used with state=drifted/);
    expect((await tenantctl(["list", "--limit", "0"])).status).toBe(2);
    const tooMany = await tenantctl(["list", "--limit", "1001"]);
    expect(tooMany.status).toBe(2);
    expect(tooMany.stderr).toMatch(/^tenantctl: 422 query does not match the schema.*limit/);
  });
});
