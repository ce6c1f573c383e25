import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudesireClient } from "../../../src/marketplaces/cloudesire/client.js";
import { CLOUDESIRE_API_VERSION } from "../../../src/marketplaces/cloudesire/contract.js";
import { CloudesireSimulator } from "../../support/cloudesire-simulator.js";

// Our contract (marketplaces/cloudesire/contract.ts) against what Cloudesire writes: the simulator serves
// the fields of its Java client's classes, with their types (SubscriptionBillingItemDTO, MyUserDTO, ...).
const TOKEN = "cd-contract-token-0123456789";
let sim: CloudesireSimulator;
let client: CloudesireClient;
beforeAll(async () => {
  sim = await new CloudesireSimulator({ token: TOKEN, secret: "cd-contract-secret-0123456789" }).start();
  client = new CloudesireClient({ apiUrl: sim.url, token: TOKEN, timeoutMs: 2000, readAttempts: 1, backoffMs: 1 });
});
afterAll(async () => sim.stop());

const raw = async (path: string) => (await fetch(`${sim.url}/${path}?apiVersion=${CLOUDESIRE_API_VERSION}`, { headers: { "CMW-Auth-Token": TOKEN } })).text();

describe("Cloudesire's wire types read through our contract", () => {
  it("the simulator writes a billing item as Cloudesire does: value a BigDecimal at scale 10, bought and unlimited booleans, unset fields null", async () => {
    sim.order(1, { type: "TRIAL", quantities: { CPU_CORES: 6, RAM_GB: 8, DISK_GB: 100, IP_ADDRESSES: 1 } });
    const text = await raw("subscription/1");
    expect(text).toContain('"identifier":"CPU_CORES","unit":"unit","value":6.0000000000,"bought":true,"tag":null,"unlimited":false,"endpoint":null');
    expect(text).toContain('"company":null');
    expect(text).toMatch(/"createdAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"/);
    expect(text).toContain('"startDate":null');
  });

  it("a prepaid subscription as Cloudesire writes it is read, its quantities as numbers and bought as a flag", async () => {
    sim.order(2, { type: "NORMAL", paid: true, deploymentStatus: "PENDING" });
    const sub = await client.subscription("2");
    expect(sub?.billingItems.map((b) => [b.identifier, b.value, b.bought])).toEqual([["CPU_CORES", 4, true], ["RAM_GB", 8, true], ["DISK_GB", 100, true], ["IP_ADDRESSES", 1, true]]);
    expect(sub).toMatchObject({ id: 2, paid: true, deploymentStatus: "PENDING", type: "NORMAL", product: { url: "product/12" } });
  });

  it("a billing item in its plan's last range (unlimited) and one not bought yet are read as they are", async () => {
    sim.order(3, { type: "TRIAL", quantities: { CPU_CORES: { value: 48, unlimited: true, tag: "48+" }, RAM_GB: { value: 8, bought: false }, DISK_GB: 100, IP_ADDRESSES: 1 } });
    const sub = await client.subscription("3");
    expect(sub?.billingItems.slice(0, 2)).toMatchObject([{ identifier: "CPU_CORES", value: 48, unlimited: true, tag: "48+" }, { identifier: "RAM_GB", value: 8, bought: false }]);
  });

  it("a read Cloudesire rate-limits waits the X-Rate-Limit-Retry-After-Milliseconds it asks before the next try", async () => {
    sim.order(4, { type: "TRIAL" });
    sim.inject("GET", /^subscription\/4$/, "rate-limit", 1, 400);
    const patient = new CloudesireClient({ apiUrl: sim.url, token: TOKEN, timeoutMs: 2000, readAttempts: 2, backoffMs: 1 });
    const started = Date.now();
    expect(await patient.subscription("4")).toMatchObject({ id: 4 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it("a buyer as Cloudesire writes it (MyUserDTO, unset fields null) is read", async () => {
    sim.addUser(77, { language: "it", phoneNumber: null });
    expect(await client.user("77")).toMatchObject({ id: 77, fullName: "Ada Lovelace", language: "it" });
  });
});
