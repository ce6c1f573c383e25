import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudClient } from "../../src/openstack/cloud-client.js";
import { readAdminCredentials } from "../../src/openstack/credentials.js";
import { cleanEnv } from "./testcloud.js";

interface ServesCredentials {
  app: { request(path: string, init?: RequestInit): Response | Promise<Response> };
}

/**
 * A customer of the service: the credential files the API serves for their subscription (with their
 * token), written where the CLIs find them, and the environments the real `openstack` and `cinder` CLIs run in.
 */
export class Customer {
  private readonly dir = mkdtempSync(join(tmpdir(), "customer-"));
  constructor(private readonly h: ServesCredentials, readonly subscriptionId: string, private readonly token: string) {}

  async file(format: "clouds.yaml" | "openrc"): Promise<string> {
    const res = await this.h.app.request(`/v1/subscriptions/${this.subscriptionId}/credentials?format=${format}`, { headers: { authorization: `Bearer ${this.token}` } });
    if (res.status !== 200) throw new Error(`credentials ${format}: ${res.status} ${await res.text()}`);
    const path = join(this.dir, format);
    writeFileSync(path, await res.text(), { mode: 0o600 });
    return path;
  }

  /** `openstack --os-cloud sub-<id>` with the served clouds.yaml, as in the README's instructions. */
  async openstackArgs(): Promise<{ args: string[]; env: Record<string, string> }> {
    return { args: ["--os-cloud", `sub-${this.subscriptionId}`], env: cleanEnv({ OS_CLIENT_CONFIG_FILE: await this.file("clouds.yaml") }) };
  }

  /** REST as the customer, with the same served clouds.yaml (read the way the CLI reads it). */
  async client(): Promise<CloudClient> {
    const creds = readAdminCredentials({ OS_CLOUD: `sub-${this.subscriptionId}`, OS_CLIENT_CONFIG_FILE: await this.file("clouds.yaml") });
    if (!creds.ok) throw new Error(creds.problem);
    return new CloudClient(creds.credentials);
  }
}
