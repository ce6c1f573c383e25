import { readFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AdminCredentials } from "../../src/openstack/credentials.js";

/**
 * What the real Nova, Cinder and Neutron of the test cloud cannot be made to do on demand: fail. A Keystone
 * token endpoint whose catalog points at this server, whose services then either answer every request with
 * a 500 (the body Nova Zed really answered on the test cloud to a DELETE /servers/{id} when it had no
 * Placement to talk to, test/fixtures/openstack/nova-500-compute-fault.json) or never answer (a timeout).
 * Everything a service does when it works is tested against the real services (test/integration).
 */
export class FailingOpenStack {
  private server: Server | undefined;
  private readonly hanging: ServerResponse[] = [];
  /** Service requests received (method and path), to show that the failure was met. */
  readonly requests: string[] = [];
  url = "";

  constructor(private readonly mode: "500" | "hang") {}

  credentials(): AdminCredentials {
    return { authUrl: `${this.url}/identity/v3`, username: "admin", password: "fake-admin-password", projectName: "admin", userDomainId: "default", projectDomainId: "default", interface: "public", source: "failing cloud" } as AdminCredentials;
  }

  async start(): Promise<this> {
    const fault = readFileSync(new URL("../fixtures/openstack/nova-500-compute-fault.json", import.meta.url), "utf8");
    this.server = createServer((req, res) => {
      req.resume();
      if (req.method === "POST" && req.url === "/identity/v3/auth/tokens") {
        const ep = (type: string, p: string) => ({ type, endpoints: [{ interface: "public", region_id: "RegionOne", url: `${this.url}${p}` }] });
        res.writeHead(201, { "content-type": "application/json", "x-subject-token": "fake-token" });
        res.end(JSON.stringify({ token: { expires_at: "2099-01-01T00:00:00Z", roles: [{ id: "r", name: "admin" }], catalog: [ep("identity", "/identity/v3"), ep("compute", "/compute/v2.1"), ep("block-storage", "/volume/v3/admin-project"), ep("network", "/network")] } }));
        return;
      }
      this.requests.push(`${req.method} ${req.url}`);
      if (this.mode === "hang") {
        this.hanging.push(res);
        return;
      }
      res.writeHead(500, { "content-type": "application/json" });
      res.end(fault);
    });
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}
