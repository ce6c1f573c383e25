import { z } from "zod";
import type { CloudClient } from "./cloud-client.js";

/**
 * Servers stopped by a suspension carry this metadata key, so that the resumption starts exactly those
 * (and not a server the customer had shut down themselves). It lives on the server, in Nova: any replica
 * sees it, and a crash between marking and stopping only leaves a running server marked (harmless).
 */
export const SUSPENDED_MARK = "openstack-tenants:stopped-by-suspension";

const Server = z.object({
  id: z.string(), name: z.string().nullish(), status: z.string(), metadata: z.record(z.string(), z.string()).default({}),
  // A stop or start already under way: Nova refuses another action on it with 409 (task_state).
  "OS-EXT-STS:task_state": z.string().nullish(),
});
const Servers = z.object({ servers: z.array(Server) });
const Nothing = z.unknown();

async function serversOf(client: CloudClient, projectId: string): Promise<Array<z.infer<typeof Server>>> {
  if (!(await client.endpoint("compute"))) return []; // a cloud without Nova has no servers to stop
  const { servers } = await client.request("compute", "GET", `/servers/detail?all_tenants=1&project_id=${encodeURIComponent(projectId)}`, Servers);
  return servers;
}

/**
 * A suspended tenant's servers are stopped (Nova `os-stop`): a disabled project and user stop new logins
 * and API calls, not running servers, which would keep serving and (PAYG) stop being billed. Each server
 * is marked before it is stopped. Returns what it did, one line per server.
 */
export async function stopForSuspension(client: CloudClient, projectId: string): Promise<string[]> {
  const done: string[] = [];
  for (const s of await serversOf(client, projectId)) {
    // Only running servers: a SHUTOFF one was stopped by the customer and stays so after resumption.
    if (s.status !== "ACTIVE") continue;
    if (s["OS-EXT-STS:task_state"] === "powering-off") continue;
    if (s.metadata[SUSPENDED_MARK] !== "true") {
      await client.request("compute", "PUT", `/servers/${s.id}/metadata/${encodeURIComponent(SUSPENDED_MARK)}`, Nothing, { meta: { [SUSPENDED_MARK]: "true" } });
    }
    await client.request("compute", "POST", `/servers/${s.id}/action`, Nothing, { "os-stop": null });
    done.push(`server ${s.name || s.id} stopped`);
  }
  return done;
}

/** On resumption: starts exactly the servers a suspension stopped (`os-start`) and removes their mark. */
export async function startAfterSuspension(client: CloudClient, projectId: string): Promise<string[]> {
  const done: string[] = [];
  for (const s of await serversOf(client, projectId)) {
    if (s.metadata[SUSPENDED_MARK] !== "true") continue;
    if (s.status === "SHUTOFF" && s["OS-EXT-STS:task_state"] !== "powering-on") {
      await client.request("compute", "POST", `/servers/${s.id}/action`, Nothing, { "os-start": null });
      done.push(`server ${s.name || s.id} started`);
    }
    await client.request("compute", "DELETE", `/servers/${s.id}/metadata/${encodeURIComponent(SUSPENDED_MARK)}`, Nothing);
  }
  return done;
}
