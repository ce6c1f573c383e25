import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditCsv } from "../../../src/cli/operators.js";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { tenantctlAt } from "../../support/tenantctl.js";

let h: Awaited<ReturnType<typeof harness>>;
let server: Awaited<ReturnType<typeof listen>>;
const { run: tenantctl } = tenantctlAt(() => server.url);

beforeAll(async () => {
  h = await harness();
  server = await listen(h.app);
  await h.send(event("7", "subscription.created"));
  await h.reconciler.idle();
});
afterAll(async () => {
  await server.close();
  await h.close();
});

describe("tenantctl operator and audit", () => {
  it("operator add prints the token once; the new operator works with it and its role; list and revoke", async () => {
    const add = await tenantctl(["operator", "add", "alice", "--role", "viewer"]);
    expect(add.status, add.stderr).toBe(0);
    const token = add.stdout.trim().split("\n").at(-1) as string;
    expect(token).toMatch(/^op_[A-Za-z0-9_-]{43}$/);
    expect(add.stdout).toContain("operator alice added as viewer");
    // alice's own tenantctl: reads work, actions are refused with the role named (exit 2: a 4xx).
    expect((await tenantctl(["list"], { OPERATOR_TOKEN: token })).status).toBe(0);
    const refused = await tenantctl(["retry", "7"], { OPERATOR_TOKEN: token });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("403 needs the operator role; alice is a viewer");
    const list = await tenantctl(["operator", "list"]);
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+CREATED\s+REVOKED$/m);
    expect(list.stdout).toMatch(/^root\s+admin\s+\(OPERATOR_TOKEN\)$/m);
    expect(list.stdout).toMatch(/^alice\s+viewer\s+\d{4}-\d\d-\d\dT\S+Z$/m);
    expect(JSON.parse((await tenantctl(["operator", "list", "--json"])).stdout)).toMatchObject({ operators: [{ name: "root" }, { name: "alice", role: "viewer" }] });
    const revoke = await tenantctl(["operator", "revoke", "alice"]);
    expect(revoke.stdout).toMatch(/^revoked:\s+\d{4}-/m);
    expect((await tenantctl(["list"], { OPERATOR_TOKEN: token })).status).toBe(2);
  });

  it("refuses bad usage before any request: a missing or unknown role, a bad name, an unknown subcommand", async () => {
    for (const args of [["operator", "add", "bob"], ["operator", "add", "bob", "--role", "god"], ["operator", "add", "Bob!", "--role", "viewer"], ["operator", "frob"], ["operator", "revoke"], ["audit", "--since", "yesterday"], ["audit", "--subscription", "../x"]]) {
      const r = await tenantctl(args);
      expect(r.status, args.join(" ")).toBe(2);
    }
    expect((await tenantctl(["operator", "add", "--help"])).stdout).toContain("--role R");
  });

  it("audit prints the trail as a table, filters it, and exports CSV with a header", async () => {
    await tenantctl(["retry", "7"]);
    await h.reconciler.idle();
    const t = await tenantctl(["audit"]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^AT\s+ACTOR\s+ACTION\s+SUBSCRIPTION\s+RESULT$/m);
    expect(t.stdout).toMatch(/^\S+Z\s+operator:root\s+subscription\.retry\s+7\s+ok$/m);
    expect(t.stdout).toMatch(/^\S+Z\s+marketplace:generic\s+subscription\.created\s+7\s+ok$/m);
    const csv = await tenantctl(["audit", "--subscription", "7", "--csv"]);
    const lines = csv.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("at,actor,action,subscription,result");
    expect(lines.slice(1).map((l) => l.split(",").slice(1).join(","))).toEqual(["operator:root,subscription.retry,7,ok", "marketplace:generic,subscription.created,7,ok"]);
    const future = await tenantctl(["audit", "--since", "2999-01-01T00:00:00Z", "--csv"]);
    expect(future.stdout).toBe("at,actor,action,subscription,result\n");
    const one = await tenantctl(["audit", "--limit", "1"]);
    expect(one.stderr).toMatch(/^more: tenantctl audit --limit 1 --cursor \S+$/m);
  });

  it("CSV cells are quoted as needed, with control characters escaped and spreadsheet formulas neutralised", () => {
    const csv = auditCsv([{ id: "event:1", at: "2026-12-01T00:00:00.000Z", actor: "marketplace:generic", action: "subscription.created", subscriptionId: null, result: 'rejected: "x", \u001b[2Jbad\n=HYPERLINK()' }]);
    expect(csv).toBe('at,actor,action,subscription,result\n2026-12-01T00:00:00.000Z,marketplace:generic,subscription.created,,"rejected: ""x"", \\u001b[2Jbad\n=HYPERLINK()"\n');
    expect(auditCsv([{ id: "a", at: "t", actor: "operator:x", action: "a", subscriptionId: "1", result: "=1+1" }]).split("\n")[1]).toBe(`t,operator:x,a,1,"'=1+1"`);
  });
});
