import { z } from "zod";

/**
 * What Cloudesire's backend accepts from a vendor, typed here from its own Java model classes and nothing
 * of ours, so that the simulator refuses what Cloudesire would refuse even when our contract.ts drifts.
 * Sources (ClouDesire/java-api-client, `cloudesire-api-client-dto/src/main/java/com/cloudesire/platform/
 * apiclient/dto/model/`), with the javax.validation limits they declare:
 * - `enums/DeploymentStatus.java`: 13 values, `@JsonEnumDefaultValue UNKNOWN` (a value added later reads as UNKNOWN);
 * - `dto/EndpointDTO.java`: `endpoint` @NotNull @Size(1..2000) @URL, `category` enums/EndpointType
 *   (APP, PASSWORD_RESET, DOCUMENTATION, VIDEO), `description` @Size(max = 1024);
 * - `dto/ApplicationCredentialDTO.java` + `ApplicationCredentialInputDTO.java`: `key` @NotNull @Size(1..125),
 *   `value` String, `weight` Integer @NotNull, `description` Map<String, String>;
 * - `dto/BaseSubscriptionV1DTO.java`: `endUserInstructions` @Length(max = 4096) (each language's text;
 *   api/SubscriptionApi.setEndUserInstructions takes a Map<String, String>);
 * - `dto/SubscriptionPatchDTO.java`: `deploymentStatus` (the enum), `action` (SET_NAME…), `name` @Size(max = 255);
 * - `dto/SyndicationEndpointDTO.java`: the product's notification `secret` @Size(max = 64), `url` @Size(max = 1024);
 * - `dto/OrderLineDTO.java` (VendorOrderLineDTO < CustomOrderLineDTO < OrderLineDTO): `price` @NotNull,
 *   `quantity` BigDecimal (default 1), `unit`, `description` @Length(max = 1024), `identifier`;
 *   VendorOrderLineDTO.purchased a Date.
 * Jackson reads a BigDecimal from a JSON number or a numeric string, a Date from ISO-8601 text.
 */

/** enums/DeploymentStatus, in its order. */
export const DEPLOYMENT_STATUSES = [
  "PENDING", "DEPLOYED", "UNDEPLOYED", "STOPPED", "FAILED", "POSTPONED", "REJECTED", "REQUIRES_APPROVAL",
  "UNDEPLOY_SENT", "POST_CONFIGURATION", "WAITING_PAYMENT", "PAYMENT_EXPIRED", "UNKNOWN",
] as const;
export type SimDeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];
/** Jackson with @JsonEnumDefaultValue: a name it does not know reads as UNKNOWN. */
export const DeploymentStatusDTO = z.string().transform((s): SimDeploymentStatus => ((DEPLOYMENT_STATUSES as readonly string[]).includes(s) ? (s as SimDeploymentStatus) : "UNKNOWN"));

/** Hibernate Validator's @URL: a URL with a scheme and a host. */
function isUrl(s: string): boolean {
  try {
    return new URL(s).host.length > 0;
  } catch {
    return false;
  }
}

export const EndpointDTO = z.object({
  endpoint: z.string().min(1).max(2000).refine(isUrl, "not a URL"),
  category: z.enum(["APP", "PASSWORD_RESET", "DOCUMENTATION", "VIDEO"]).nullish(),
  description: z.string().max(1024).nullish(),
});

export const ApplicationCredentialInputDTO = z.object({
  key: z.string().min(1).max(125),
  value: z.string().nullish(),
  weight: z.number().int(),
  description: z.record(z.string(), z.string()).nullish(),
});

/** setEndUserInstructions' Map<String, String>, each text within endUserInstructions' @Length(max = 4096). */
export const EndUserInstructions = z.record(z.string().min(1), z.string().max(4096));

export const SubscriptionPatchDTO = z.object({
  deploymentStatus: DeploymentStatusDTO.nullish(),
  action: z.string().nullish(),
  name: z.string().max(255).nullish(),
});

/** A BigDecimal as Jackson reads it: a JSON number or a numeric string. */
const bigDecimal = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/)]);

export const VendorOrderLineDTO = z.object({
  price: z.object({ price: bigDecimal, currency: z.string().nullish() }),
  quantity: bigDecimal.nullish(),
  unit: z.string().nullish(),
  description: z.string().max(1024).nullish(),
  identifier: z.string().nullish(),
  purchased: z.string().datetime({ offset: true }).nullish(),
});

/** SyndicationEndpointDTO.secret: the most a product's notification secret may hold. */
export const NOTIFICATION_SECRET_MAX = 64;
