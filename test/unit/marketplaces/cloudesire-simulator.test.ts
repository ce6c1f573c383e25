import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudesireClient } from "../../../src/marketplaces/cloudesire/client.js";
import { CloudesireSimulator } from "../../support/cloudesire-simulator.js";

// The simulator is only worth its checks if they are Cloudesire's, not ours (test/support/cloudesire-dtos.ts
// types them from ClouDesire/java-api-client's DTOs): each limit below is refused as Cloudesire refuses it.
let sim: CloudesireSimulator;
beforeAll(async () => {
  sim = await new CloudesireSimulator({ token: "t".repeat(20), secret: "s".repeat(20) }).start();
  sim.order(1, { type: "TRIAL" });
});
afterAll(async () => sim.stop());

const call = (method: string, path: string, body: unknown) =>
  fetch(`${sim.url}/${path}?apiVersion=20250109`, { method, headers: { "CMW-Auth-Token": "t".repeat(20), "content-type": "application/json" }, body: JSON.stringify(body) });
const app = { endpoint: "https://dashboard.example", description: "dashboard", category: "APP" };
const credential = { key: "username", value: "ada", description: { en: "User name" }, weight: 1 };

describe("the Cloudesire simulator refuses what Cloudesire's DTOs refuse", () => {
  it("instructions over 4,096 characters (BaseSubscriptionV1DTO.endUserInstructions)", async () => {
    expect((await call("POST", "subscription/1/instructions", { en: "x".repeat(4096) })).status).toBe(204);
    expect((await call("POST", "subscription/1/instructions", { en: "x".repeat(4097) })).status).toBe(400);
  });

  it("an endpoint description over 1,024 characters (EndpointDTO)", async () => {
    expect((await call("POST", "subscription/1/endpoints", [{ ...app, description: "d".repeat(1024) }])).status).toBe(204);
    expect((await call("POST", "subscription/1/endpoints", [{ ...app, description: "d".repeat(1025) }])).status).toBe(400);
  });

  it("a credential key over 125 characters or without a weight (ApplicationCredentialDTO)", async () => {
    expect((await call("POST", "subscription/1/credentials", [credential])).status).toBe(204);
    expect((await call("POST", "subscription/1/credentials", [{ ...credential, key: "k".repeat(126) }])).status).toBe(400);
    expect((await call("POST", "subscription/1/credentials", [{ ...credential, weight: undefined }])).status).toBe(400);
  });

  it("a name over 255 characters (SubscriptionPatchDTO), and a deployment status no vendor reports", async () => {
    expect((await call("PATCH", "subscription/1", { action: "SET_NAME", name: "n".repeat(255) })).status).toBe(200);
    expect((await call("PATCH", "subscription/1", { action: "SET_NAME", name: "n".repeat(256) })).status).toBe(400);
    expect((await call("PATCH", "subscription/1", { deploymentStatus: "SOMETHING_NEW" })).status).toBe(400);
  });

  it("a deployment status Cloudesire adds later reads as UNKNOWN (DeploymentStatus' @JsonEnumDefaultValue)", async () => {
    sim.set(1, { deploymentStatus: "SOMETHING_NEW" as "UNKNOWN" });
    const client = new CloudesireClient({ apiUrl: sim.url, token: "t".repeat(20), timeoutMs: 1000, readAttempts: 1, backoffMs: 1 });
    expect((await client.subscription("1"))?.deploymentStatus).toBe("UNKNOWN");
  });
});
