import { randomUUID } from "node:crypto";
import pg from "pg";
import { testcloud } from "./testcloud.js";

/**
 * Servers without a compute host: the test cloud has no scheduler, conductor or compute service, so a
 * server cannot be booted. Nova counts instances, cores and RAM from the rows of its cell database
 * (nova/quota.py, counting from the cell DBs unless [quota] count_usage_from_placement), so inserting rows
 * is what a booted server looks like to quotas (recipe: /work/shared/nova-cinder-neutron-on-loopback.md).
 * instance_extra.flavor is what GET /servers/detail needs (else OrphanedObjectError); the instance
 * mapping in nova_api is what DELETE /servers/{id} needs to find the server's cell.
 */
export async function insertServer(o: {
  projectId: string; userId: string; name: string; vcpus: number; memoryMb: number;
  /**
   * A compute host's name: Nova's stop/start actions refuse a server without one (@check_instance_host),
   * and every action a server never launched (`launched_at`, check_instance_state's must_have_launched).
   */
  host?: string;
  /** `stopped`: shut down (power_state 4, SHUTOFF), as a compute leaves a server after `os-stop`. */
  vmState?: "active" | "stopped";
}): Promise<string> {
  const env = testcloud();
  const uuid = randomUUID();
  const flavor = {
    cur: {
      "nova_object.name": "Flavor", "nova_object.namespace": "nova", "nova_object.version": "1.2",
      "nova_object.data": { id: 1, name: `t.${o.vcpus}c`, memory_mb: o.memoryMb, vcpus: o.vcpus, root_gb: 0, ephemeral_gb: 0, flavorid: `t.${o.vcpus}c`, swap: 0, rxtx_factor: 1.0, vcpu_weight: 0, disabled: false, is_public: true, extra_specs: {}, description: null },
    },
    old: null, new: null,
  };
  const cell = new pg.Client({ connectionString: env.TESTCLOUD_NOVA_CELL_DATABASE_URL });
  const api = new pg.Client({ connectionString: env.TESTCLOUD_NOVA_API_DATABASE_URL });
  await cell.connect();
  await api.connect();
  try {
    await cell.query(
      `insert into instances (uuid, project_id, user_id, display_name, hostname, vcpus, memory_mb, deleted, vm_state, power_state, host, node, launched_at, created_at)
       values ($1, $2, $3, $4, $4, $5, $6, 0, $7, $8, $9, $9, now(), now())`,
      [uuid, o.projectId, o.userId, o.name, o.vcpus, o.memoryMb, o.vmState ?? "active", o.vmState === "stopped" ? 4 : 1, o.host ?? null],
    );
    await cell.query("insert into instance_extra (instance_uuid, flavor, created_at, deleted) values ($1, $2, now(), 0)", [uuid, JSON.stringify(flavor)]);
    await api.query(
      "insert into instance_mappings (instance_uuid, cell_id, project_id, user_id, queued_for_delete, created_at) values ($1, (select id from cell_mappings where name = 'cell1'), $2, $3, false, now())",
      [uuid, o.projectId, o.userId],
    );
  } finally {
    await cell.end();
    await api.end();
  }
  return uuid;
}

/**
 * What the compute host would do with a stop or start that the API accepted (the test cloud has none): the
 * server reaches the state asked for and its task is over.
 */
export async function finishPowerAction(uuid: string, to: "stopped" | "active"): Promise<void> {
  const cell = new pg.Client({ connectionString: testcloud().TESTCLOUD_NOVA_CELL_DATABASE_URL });
  await cell.connect();
  try {
    await cell.query("update instances set vm_state = $2, power_state = $3, task_state = null where uuid = $1", [uuid, to, to === "stopped" ? 4 : 1]);
  } finally {
    await cell.end();
  }
}
