import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "render-"));
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
    encoding: "utf8", input, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
  });

describe("tenantctl render", () => {
  it("prints, offline and without credentials, what the program declares, as JSON on stdout only", () => {
    const file = join(dir, "sub.json");
    writeFileSync(file, JSON.stringify({ id: "42", customer: { id: "c-7", name: "Example Ltd", email: "ops@example.com" }, plan: { model: "prepaid", cores: 8, ramGb: 16, diskGb: 200, floatingIps: 2 } }));
    const r = cli(["render", file]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { stack: string; resources: Array<{ type: string; name: string; inputs: Record<string, unknown> }> };
    expect(out.stack).toBe("sub-42");
    expect(out.resources.map((x) => x.name)).toEqual(["project", "user", "member", "compute-quota", "blockstorage-quota", "network-quota"]);
    expect(out.resources[1]?.inputs.password).toBe("[secret]");
    expect(out.resources[3]?.inputs).toMatchObject({ cores: 8, ram: 16384 });
  }, 30_000);

  it("bad input is a one-line error on stderr and exit code 2", () => {
    const r = cli(["render", "-"], JSON.stringify({ id: "Not OK", plan: { model: "prepaid" } }));
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^tenantctl: invalid subscription: id:/);
    expect(cli(["render", join(dir, "missing.json")]).status).toBe(2);
    expect(cli(["frobnicate"]).status).toBe(2);
  }, 30_000);
});
