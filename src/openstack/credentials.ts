import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** OpenStack admin credentials, the way `openstack` CLI users give them: OS_* or OS_CLOUD + clouds.yaml. */
export const AdminCredentials = z.object({
  authUrl: z.string().url(),
  username: z.string().min(1),
  password: z.string().min(1),
  projectName: z.string().min(1).optional(),
  projectId: z.string().min(1).optional(),
  userDomainName: z.string().optional(),
  userDomainId: z.string().optional(),
  projectDomainName: z.string().optional(),
  projectDomainId: z.string().optional(),
  regionName: z.string().optional(),
  interface: z.enum(["public", "internal", "admin"]).default("public"),
  /** Where they came from, for messages: "OS_* environment" or "clouds.yaml cloud 'x' (path)". */
  source: z.string(),
});
export type AdminCredentials = z.infer<typeof AdminCredentials>;

const CloudEntry = z.object({
  auth: z.object({
    auth_url: z.string(),
    username: z.string().optional(),
    password: z.string().optional(),
    project_name: z.string().optional(),
    project_id: z.string().optional(),
    user_domain_name: z.string().optional(),
    user_domain_id: z.string().optional(),
    project_domain_name: z.string().optional(),
    project_domain_id: z.string().optional(),
  }),
  region_name: z.string().optional(),
  interface: z.string().optional(),
});
const CloudsFile = z.object({ clouds: z.record(z.string(), CloudEntry) });

export type CredentialResult = { ok: true; credentials: AdminCredentials } | { ok: false; problem: string };

/** The clouds.yaml search path of os-client-config, in its order. */
export function cloudsYamlCandidates(env: Record<string, string | undefined>): string[] {
  return [
    env.OS_CLIENT_CONFIG_FILE,
    join(process.cwd(), "clouds.yaml"),
    join(homedir(), ".config", "openstack", "clouds.yaml"),
    "/etc/openstack/clouds.yaml",
  ].filter((p): p is string => typeof p === "string" && p.length > 0);
}

export function readAdminCredentials(env: Record<string, string | undefined>): CredentialResult {
  if (env.OS_CLOUD) return fromCloudsYaml(env.OS_CLOUD, env);
  if (!env.OS_AUTH_URL) return { ok: false, problem: "no OpenStack admin credentials: set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME (or OS_CLOUD with a clouds.yaml)" };
  const parsed = AdminCredentials.safeParse({
    authUrl: env.OS_AUTH_URL,
    username: env.OS_USERNAME,
    password: env.OS_PASSWORD,
    projectName: env.OS_PROJECT_NAME ?? env.OS_TENANT_NAME,
    projectId: env.OS_PROJECT_ID,
    userDomainName: env.OS_USER_DOMAIN_NAME,
    userDomainId: env.OS_USER_DOMAIN_ID,
    projectDomainName: env.OS_PROJECT_DOMAIN_NAME,
    projectDomainId: env.OS_PROJECT_DOMAIN_ID,
    regionName: env.OS_REGION_NAME,
    interface: env.OS_INTERFACE ?? "public",
    source: "OS_* environment",
  });
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
    return { ok: false, problem: `incomplete OS_* credentials (missing or invalid: ${fields})` };
  }
  return { ok: true, credentials: parsed.data };
}

function fromCloudsYaml(cloud: string, env: Record<string, string | undefined>): CredentialResult {
  const path = cloudsYamlCandidates(env).find((p) => existsSync(p));
  if (!path) return { ok: false, problem: `OS_CLOUD=${cloud} but no clouds.yaml found (looked in ${cloudsYamlCandidates(env).join(", ")})` };
  let file: z.infer<typeof CloudsFile>;
  try {
    file = CloudsFile.parse(parseYaml(readFileSync(path, "utf8")));
  } catch (e) {
    return { ok: false, problem: `${path} is not a valid clouds.yaml: ${e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") : "unreadable YAML"}` };
  }
  const entry = file.clouds[cloud];
  if (!entry) return { ok: false, problem: `cloud '${cloud}' is not in ${path} (it has: ${Object.keys(file.clouds).join(", ") || "none"})` };
  const a = entry.auth;
  const parsed = AdminCredentials.safeParse({
    authUrl: a.auth_url, username: a.username, password: a.password ?? env.OS_PASSWORD,
    projectName: a.project_name, projectId: a.project_id,
    userDomainName: a.user_domain_name, userDomainId: a.user_domain_id,
    projectDomainName: a.project_domain_name, projectDomainId: a.project_domain_id,
    regionName: entry.region_name ?? env.OS_REGION_NAME, interface: entry.interface ?? "public",
    source: `clouds.yaml cloud '${cloud}' (${path})`,
  });
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
    return { ok: false, problem: `cloud '${cloud}' in ${path} is incomplete (missing or invalid: ${fields})` };
  }
  return { ok: true, credentials: parsed.data };
}

/** The environment handed to the Pulumi OpenStack provider: the operator's own OS_* / OS_CLOUD vars. */
export function openstackEnvOf(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[0].startsWith("OS_") && typeof e[1] === "string"),
  );
}
