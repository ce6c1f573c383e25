import { z } from "zod";

/**
 * Cloudesire's syndication contract: the shapes we receive and send, as zod schemas (the single source
 * of each shape). Sources, read in ClouDesire/docusaurus (docs/syndication.md, docs/event-notification.md,
 * docs/order-validation.md, docs/billing.md) and ClouDesire/java-api-client (api/SubscriptionApi.java,
 * dto/EventNotificationDTO, dto/BaseSubscription*DTO, dto/enums/DeploymentStatus, dto/ApiVersion);
 * summarised with marks (doc / code / inferred) in the team's shared facts file (cloudesire-syndication.md).
 */

/** The newest `apiVersion` of the Java client (dto/ApiVersion): pins list-shaped responses on every call. */
export const CLOUDESIRE_API_VERSION = "20250109";

/** dto/enums/DeploymentStatus (code). A value added later reads as UNKNOWN rather than failing the read. */
export const DeploymentStatus = z
  .enum([
    "PENDING", "DEPLOYED", "UNDEPLOYED", "STOPPED", "FAILED", "POSTPONED", "REJECTED", "REQUIRES_APPROVAL",
    "UNDEPLOY_SENT", "POST_CONFIGURATION", "WAITING_PAYMENT", "PAYMENT_EXPIRED", "UNKNOWN",
  ])
  .catch("UNKNOWN");
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;

/**
 * A notification (docs/event-notification.md; code: dto/EventNotificationDTO): `id` is a string in the docs and an integer in the client
 * and templates, so both are accepted; `entity` other than Subscription is acknowledged and ignored.
 */
export const Notification = z.object({
  entity: z.string().min(1).max(64),
  id: z.union([z.number().int().nonnegative(), z.string().min(1).max(32)]),
  /** `CREATED | MODIFIED | DELETED`; kept as sent (only DELETED changes what a read concludes). */
  type: z.string().min(1).max(32),
  // Optional in EventNotificationDTO, and Jackson writes an unset field as null (`"metadata": null` when
  // the event carries no payload): null is accepted wherever a field is optional.
  entityUrl: z.string().max(256).nullish(),
  date: z.string().max(64).nullish(),
  eventId: z.union([z.number(), z.string().max(128)]).nullish(),
  self: z.string().max(256).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});
export type Notification = z.infer<typeof Notification>;

/** `{"url": "user/2240"}`: how one resource links another. */
export const Link = z.object({ url: z.string().min(1) });

/** The id at the end of a link (`productVersion/77` → `77`). */
export function idOfLink(link: { url: string } | null | undefined): string | null {
  const m = link ? /(\d+)\/?$/.exec(link.url) : null;
  return m ? (m[1] as string) : null;
}

/**
 * One extra resource the customer chose (code: dto/SubscriptionBillingItemDTO). `value` is a BigDecimal set
 * to scale 10 (MathConfiguration.DAY_SCALE_PRECISION), so `6.0000000000` on the wire: a JSON number, read as
 * one (a quantity, not money). `bought` is a Boolean ("whether the billing item has been already bought for
 * the Subscription"), never the quantity; `unlimited` a Boolean ("whether the chosen value is in the last
 * range of the possible values": the value is still the number chosen); `tag` names a range. Jackson
 * writes unset fields as null, so every field but the link is nullable.
 */
export const SubscriptionBillingItem = z.object({
  billingItem: Link.nullish(),
  identifier: z.string().nullish(),
  unit: z.string().nullish(),
  value: z.number().nullish(),
  bought: z.boolean().nullish(),
  tag: z.string().nullish(),
  unlimited: z.boolean().nullish(),
});
export type SubscriptionBillingItem = z.infer<typeof SubscriptionBillingItem>;

/** `GET subscription/{id}` (code: BaseSubscriptionDTO and its detail; doc: docs/syndication.md). */
export const CloudesireSubscription = z.object({
  id: z.number().int().nonnegative(),
  name: z.string().nullish(),
  paid: z.boolean(),
  deploymentStatus: DeploymentStatus,
  type: z.enum(["NORMAL", "TRIAL", "SANDBOX"]).catch("NORMAL").default("NORMAL"),
  startDate: z.string().nullish(),
  endDate: z.string().nullish(),
  buyer: Link.nullish(),
  /** The product sold (BaseSubscriptionV1DTO.product): an endpoint at vendor level hears every product's subscriptions. */
  product: Link.nullish(),
  productVersion: Link.nullish(),
  billingItems: z.array(SubscriptionBillingItem).nullish().transform((v) => v ?? []),
  /**
   * The values the customer chose for the product's configuration parameters (code:
   * SubscriptionDetailDTO's `List<SubscriptionConfigurationParameterDTO>`: the parameter's link, its `code`,
   * the chosen `value` and its `description`).
   */
  configurationParameters: z.array(z.object({
    configurationParameter: Link.nullish(), code: z.string().nullish(), value: z.string().nullish(), description: z.string().nullish(),
  })).nullish(),
});
export type CloudesireSubscription = z.infer<typeof CloudesireSubscription>;

/** `GET user/{id}` (doc+code). */
export const CloudesireUser = z.object({
  id: z.number().int().nonnegative(),
  name: z.string().nullish(),
  surname: z.string().nullish(),
  fullName: z.string().nullish(),
  email: z.string().nullish(),
  userName: z.string().nullish(),
  language: z.string().nullish(),
});
export type CloudesireUser = z.infer<typeof CloudesireUser>;

/** Error bodies (docs/api.md): `{"errorHolders":[{"key","error","extraFields"}]}`. */
export const ErrorBody = z.object({
  errorHolders: z.array(z.object({ key: z.string().nullish(), error: z.string().nullish(), extraFields: z.unknown().optional() })),
});

/**
 * `POST subscription/{id}/endpoints` (docs/syndication.md): an `APP` endpoint is required and must be HTTPS.
 * dto/EndpointDTO: `endpoint` @Size(1..2000) @URL, `description` @Size(max = 1024).
 */
export const Endpoint = z.object({
  endpoint: z.string().url().max(2000),
  description: z.string().max(1024),
  category: z.enum(["APP", "PASSWORD_RESET", "DOCUMENTATION", "VIDEO"]),
});
export type Endpoint = z.infer<typeof Endpoint>;

/**
 * `POST subscription/{id}/credentials` (docs/syndication.md): `CredentialsFile` is shown preformatted.
 * dto/ApplicationCredentialDTO: `key` @NotNull @Size(1..125), `weight` @NotNull.
 */
export const Credential = z.object({
  key: z.string().min(1).max(125),
  value: z.string(),
  description: z.record(z.string(), z.string()),
  weight: z.number().int(),
});
export type Credential = z.infer<typeof Credential>;

/** `POST subscription/{id}/instructions`: plain text per language, each within BaseSubscriptionV1DTO.endUserInstructions' @Length(max = 4096). */
export const Instructions = z.record(z.string(), z.string().max(4096));
export type Instructions = z.infer<typeof Instructions>;

/** `POST subscription/{id}/invoice` lines (docs/billing.md; code: VendorOrderLineDTO): prices are decimal strings. */
export const InvoiceLine = z.object({
  description: z.string(),
  identifier: z.string(),
  price: z.object({ price: z.string().regex(/^\d+(\.\d+)?$/), currency: z.string() }),
  quantity: z.string().regex(/^\d+(\.\d+)?$/),
  unit: z.string(),
  /** VendorOrderLineDTO.purchased: "purchase date of the custom cost, defaults to now" (a Date, ISO-8601). */
  purchased: z.string().datetime().optional(),
});
export type InvoiceLine = z.infer<typeof InvoiceLine>;

/** `POST <our order-validation URL>` (docs/order-validation.md). */
export const OrderValidationRequest = z.object({
  productId: z.number().int().nullish(),
  productIdentifier: z.string().nullish(),
  productVersionId: z.number().int().nullish(),
  productVersionIdentifier: z.string().nullish(),
  billingItems: z.record(z.string(), z.number()).nullish(),
  configurationParameters: z.record(z.string(), z.unknown()).nullish(),
  subscriptionId: z.number().int().nullish(),
  buyerId: z.number().int().nullish(),
  orderType: z.string().nullish(),
  language: z.string().nullish(),
});
export type OrderValidationRequest = z.infer<typeof OrderValidationRequest>;

/**
 * What the doctor reads of the vendor's catalog (code: dto/ProductDTO, dto/ProductVersionDTO,
 * dto/BillingItemValueDTO, dto/BillingItemDTO, enums/ProductType, enums/BillingItemValueType,
 * enums/BillingItemPresence; api/ProductApi `GET product/{id}`, api/ProductVersionApi `GET
 * productVersion?product=`, api/BillingItemApi `GET billingItem/{id}`). Only the fields checked; any may be null.
 */
export const CatalogProduct = z.object({
  id: z.number().int(),
  name: z.string().nullish(),
  /** enums/ProductType: SYNDICATED is "provisioning is handled programmatically". */
  type: z.string().nullish(),
  /** "URLs where events of syndicated applications are dispatched" (since apiVersion 20190916). */
  syndicationEndpoints: z.array(z.string()).nullish(),
  orderValidationUrl: z.string().nullish(),
});
export type CatalogProduct = z.infer<typeof CatalogProduct>;

export const CatalogPlan = z.object({
  id: z.number().int(),
  name: z.string().nullish(),
  /** "If the version is published on the marketplace". */
  published: z.boolean().nullish(),
  /** The extra resources' ranges: `item` the billing item, `start`..`end` (null: no upper bound), `tag` a tagged stairstep. */
  billingItemValues: z.array(z.object({ item: Link.nullish(), start: z.number().nullish(), end: z.number().nullish(), tag: z.string().nullish() })).nullish(),
});
export type CatalogPlan = z.infer<typeof CatalogPlan>;

export const CatalogItem = z.object({
  id: z.number().int(),
  identifier: z.string().nullish(),
  /** enums/BillingItemValueType: PAY_AS_YOU_GO | PRE_PAID | POST_PAID. */
  valueType: z.string().nullish(),
  /** enums/BillingItemPresence: OPTIONAL | RECOMMENDED | REQUIRED. */
  presence: z.string().nullish(),
});
export type CatalogItem = z.infer<typeof CatalogItem>;

/**
 * `POST <our external configuration parameter values URL>` (docs/external-configuration-parameter-values.md):
 * Cloudesire asks which values a configuration parameter may take, given the others chosen so far.
 */
export const ParameterValuesRequest = z.object({
  productId: z.number().int().nullish(),
  productIdentifier: z.string().nullish(),
  productVersionId: z.number().int().nullish(),
  productVersionIdentifier: z.string().nullish(),
  configurationParameter: z.string(),
  configurationParameters: z.record(z.string(), z.unknown()).nullish(),
  language: z.string().nullish(),
  buyerId: z.number().int().nullish(),
});
/** Its answer: the values in display order; `[]` allows none, `null` allows every value. */
export const ParameterValues = z.object({ values: z.array(z.object({ value: z.string(), description: z.string() })).nullable() });
