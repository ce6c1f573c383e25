/** Selling on Cloudesire: its API, the notifications' secret, and how the syndicated product is configured. */
export interface CloudesireSettings {
  apiUrl: string | undefined;
  token: string | undefined;
  eventSecret: string | undefined;
  /** The previous secret, accepted too during a rotation. */
  eventSecretPrevious: string | undefined;
  dashboardUrl: string | undefined;
  documentationUrl: string | undefined;
  /** This service's public HTTPS URL: the customers' password-reset page is under it. */
  serviceUrl: string | undefined;
  items: { cores: string; ramGb: string; diskGb: string; floatingIps: string };
  paygPlans: string[];
  /** The products (ids) this service sells; empty: every subscription the endpoint hears is ours. */
  productIds: string[];
  /**
   * How PAYG usage reaches Cloudesire: `invoice`, our billing runs push invoice lines (docs/billing.md,
   * custom billing); `metrics`, Cloudesire polls our metric endpoints and bills with the plan's prices
   * ("application metrics"), and nothing is pushed.
   */
  paygMode: "invoice" | "metrics";
  /** The code of the configuration parameter naming the target a customer buys in (CLOUDESIRE_TARGET_PARAMETER). */
  targetParameter?: string | undefined;
  /** The custom header Cloudesire sends with each metric poll (configured on the product), and its value. */
  metricsHeader: string;
  metricsToken: string | undefined;
  /** The marketplace's languages (ISO 639-1): the customer's texts are posted in each (English where we do not write one). */
  languages: string[];
  timeoutMs: number;
  backoffMs: number;
  maxBackoffMs: number;
  pollMs: number;
}
