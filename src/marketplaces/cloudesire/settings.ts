/** Selling on Cloudesire: its API, the notifications' secret, and how the syndicated product is configured. */
export interface CloudesireSettings {
  apiUrl: string | undefined;
  token: string | undefined;
  eventSecret: string | undefined;
  /** The previous secret, accepted too during a rotation. */
  eventSecretPrevious: string | undefined;
  dashboardUrl: string | undefined;
  items: { cores: string; ramGb: string; diskGb: string; floatingIps: string };
  paygPlans: string[];
  /** The products (ids) this service sells; empty: every subscription the endpoint hears is ours. */
  productIds: string[];
  timeoutMs: number;
  backoffMs: number;
  maxBackoffMs: number;
  pollMs: number;
}
