import { z } from "zod";
import { conflict } from "../domain/errors.js";
import type { TenantSpec } from "../domain/tenant-spec.js";
import type { CloudClient } from "./cloud-client.js";

const Projects = z.object({ projects: z.array(z.object({ id: z.string(), name: z.string(), tags: z.array(z.string()).default([]) })) });
const Users = z.object({ users: z.array(z.object({ id: z.string(), name: z.string(), default_project_id: z.string().nullish() })) });

/**
 * The project and user that an interrupted create of `spec` may have left in Keystone, found by name in the
 * tenant's domain (names are unique per domain) and recognised as ours: the project carries the
 * subscription's tag, the user has that project as its default. Anything else by that name is not ours
 * and is never adopted (a conflict an operator must look at).
 */
export async function leftoversOf(client: CloudClient, spec: TenantSpec): Promise<{ projectId?: string; userId?: string }> {
  const domain = encodeURIComponent(spec.domainId);
  const { projects } = await client.request("identity", "GET", `/projects?name=${encodeURIComponent(spec.projectName)}&domain_id=${domain}`, Projects);
  const { users } = await client.request("identity", "GET", `/users?name=${encodeURIComponent(spec.userName)}&domain_id=${domain}`, Users);
  const project = projects[0];
  const user = users[0];
  const tag = `subscription:${spec.subscriptionId}`;
  if (project && !project.tags.includes(tag)) {
    throw conflict(`Keystone already has a project named ${project.name} (${project.id}) without the tag ${tag}: not created by this service, not adopted`);
  }
  if (user && (!project || user.default_project_id !== project.id)) {
    throw conflict(`Keystone already has a user named ${user.name} (${user.id}) whose default project is not this subscription's: not adopted`);
  }
  return { ...(project ? { projectId: project.id } : {}), ...(user ? { userId: user.id } : {}) };
}
