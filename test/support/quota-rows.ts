import pg from "pg";
import { testcloud } from "./testcloud.js";

/** Rows of the project's quotas in each service's database (Nova keeps them in nova_api). */
export async function quotaRows(projectId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const db of ["nova_api", "cinder", "neutron"]) {
    const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${testcloud().TESTCLOUD_PG_PORT}/${db}` });
    await c.connect();
    try {
      // Cinder deletes softly (deleted = true); Nova and Neutron remove the rows.
      const where = db === "cinder" ? "project_id = $1 AND deleted = false" : "project_id = $1";
      out[db] = Number((await c.query(`SELECT count(*) AS n FROM quotas WHERE ${where}`, [projectId])).rows[0]?.n ?? 0);
    } finally {
      await c.end();
    }
  }
  return out;
}
