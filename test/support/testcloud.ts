import { spawnSync } from "node:child_process";
import { inject } from "vitest";
import { AdminCredentials } from "../../src/openstack/credentials.js";

export function testcloud(): Record<string, string> {
  return inject("testcloud");
}

export function adminCredentials(): AdminCredentials {
  const env = testcloud();
  return AdminCredentials.parse({
    authUrl: env.OS_AUTH_URL, username: env.OS_USERNAME, password: env.OS_PASSWORD, projectName: env.OS_PROJECT_NAME,
    userDomainId: env.OS_USER_DOMAIN_ID, projectDomainId: env.OS_PROJECT_DOMAIN_ID, regionName: env.OS_REGION_NAME,
    source: "test cloud",
  });
}

/** Only PATH and HOME: the admin's OS_* variables must not leak into a customer's CLI session. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...extra };
}

/** The admin's OS_* variables, for the real `openstack` CLI run as the cloud's operator. */
export function adminEnv(): Record<string, string> {
  return cleanEnv(Object.fromEntries(Object.entries(testcloud()).filter(([k]) => k.startsWith("OS_"))));
}

/** A real OpenStack CLI (`openstack`, `nova`, `cinder`), its exit status and output; never throws. */
export function cli(command: string, args: string[], env: Record<string, string>) {
  // Each CLI start costs 2-4 s on an idle machine (mostly imports), far more on a loaded one.
  const r = spawnSync(command, args, { encoding: "utf8", env, timeout: 300_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** The same, with `-f json` parsed; a failure throws with the CLI's own message. */
export function cliJson<T = Record<string, unknown>>(command: string, args: string[], env: Record<string, string>): T {
  const r = cli(command, [...args, "-f", "json"], env);
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
