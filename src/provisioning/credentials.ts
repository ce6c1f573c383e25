import { stringify } from "yaml";
import { z } from "zod";
import type { StackOutputs } from "../domain/lifecycle.js";

export const CredentialsFormat = z.enum(["json", "clouds.yaml", "openrc"]);
export type CredentialsFormat = z.infer<typeof CredentialsFormat>;

/** The JSON form of a customer's credentials (the HTTP API documents it from here). */
export const CredentialsDocument = z.object({
  authUrl: z.string(), region: z.string(), username: z.string(), password: z.string(),
  userId: z.string(), projectId: z.string(), userDomainId: z.string(), projectDomainId: z.string(),
  identityApiVersion: z.literal(3),
});
export type CredentialsDocument = z.infer<typeof CredentialsDocument>;

/** The clouds.yaml form (openstacksdk's format: one cloud named after the stack), documented from here too. */
export const CloudsYamlDocument = z.object({
  clouds: z.record(z.string(), z.object({
    auth: z.object({ auth_url: z.string(), username: z.string(), password: z.string(), project_id: z.string(), user_domain_id: z.string() }),
    region_name: z.string(), interface: z.literal("public"), identity_api_version: z.literal(3),
  })),
});
export type CloudsYamlDocument = z.infer<typeof CloudsYamlDocument>;

/** The customer's credentials, in the forms the `openstack` CLI and SDKs read. */
export function renderCredentials(cloudName: string, o: StackOutputs, format: CredentialsFormat): { body: string; contentType: string } {
  if (format === "json") {
    return {
      contentType: "application/json",
      body: JSON.stringify({
        authUrl: o.authUrl, region: o.region, username: o.userName, password: o.password,
        userId: o.userId, projectId: o.projectId, userDomainId: o.domainId, projectDomainId: o.domainId,
        identityApiVersion: 3,
      } satisfies CredentialsDocument),
    };
  }
  if (format === "clouds.yaml") {
    return {
      contentType: "application/yaml",
      body: stringify({
        clouds: {
          [cloudName]: {
            auth: {
              auth_url: o.authUrl, username: o.userName, password: o.password,
              project_id: o.projectId, user_domain_id: o.domainId,
            },
            region_name: o.region,
            interface: "public",
            identity_api_version: 3,
          },
        },
      } satisfies CloudsYamlDocument),
    };
  }
  const q = (v: string) => `'${v.replaceAll("'", "'\\''")}'`;
  return {
    contentType: "text/plain; charset=utf-8",
    body: [
      `export OS_AUTH_URL=${q(o.authUrl)}`,
      `export OS_USERNAME=${q(o.userName)}`,
      `export OS_PASSWORD=${q(o.password)}`,
      `export OS_PROJECT_ID=${q(o.projectId)}`,
      `export OS_USER_DOMAIN_ID=${q(o.domainId)}`,
      `export OS_REGION_NAME=${q(o.region)}`,
      "export OS_INTERFACE=public",
      "export OS_IDENTITY_API_VERSION=3",
      "unset OS_CLOUD OS_PROJECT_NAME OS_TENANT_NAME OS_PROJECT_DOMAIN_NAME OS_USER_DOMAIN_NAME",
      "",
    ].join("\n"),
  };
}
