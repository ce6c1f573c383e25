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
