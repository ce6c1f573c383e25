import type { CloudesireSettings } from "./settings.js";
import type { Finding } from "../../openstack/doctor.js";
import type { PlanLimits } from "../../domain/plan.js";
import { catalogFindings } from "./catalog-check.js";
import { CloudesireClient, CloudesireError } from "./client.js";
import type { CatalogItem } from "./contract.js";
import { idOfLink } from "./contract.js";

/**
 * `tenantctl cloudesire doctor`: can this service sell on Cloudesire? The notifications' secret is set,
 * the products sold are named, the API answers and accepts our token (`HEAD subscription` needs a
 * vendor's token), and each product on that marketplace is set up as README "Selling on Cloudesire" says
 * (catalog-check.ts): staging and production marketplaces have their own ids, tokens and secrets, so a
 * product id of the other one is found missing here.
 */
export async function cloudesireDoctor(c: CloudesireSettings, fetchImpl?: typeof fetch, limits?: PlanLimits): Promise<Finding[]> {
  const findings: Finding[] = [];
  findings.push(c.eventSecret
    ? { status: "ok", check: "notification secret", message: "CLOUDESIRE_EVENT_SECRET is set: notifications are verified (CMW-Event-Signature); it is the product's secret, at most 64 characters" }
    : { status: "fail", check: "notification secret", message: "CLOUDESIRE_EVENT_SECRET is not set: notifications are refused" });
  findings.push(c.productIds.length > 0
    ? { status: "ok", check: "products", message: `sells product ${c.productIds.join(", ")}; other products' subscriptions are left alone` }
    : { status: "fail", check: "products", message: "CLOUDESIRE_PRODUCT_IDS is not set: no subscription is taken as ours (name the Syndicated Product's id, product/<id>)" });
  findings.push(c.dashboardUrl
    ? { status: "ok", check: "dashboard", message: `customers are sent to ${c.dashboardUrl}` }
    : { status: "warn", check: "dashboard", message: "CLOUDESIRE_DASHBOARD_URL is not set: the customer's APP endpoint is the tenant's identity (Keystone) URL, and none when it is not HTTPS" });
  if (!c.apiUrl || !c.token) {
    findings.push({ status: "fail", check: "api", message: `${!c.apiUrl ? "CLOUDESIRE_API_URL" : "CLOUDESIRE_TOKEN"} is not set: subscriptions cannot be read` });
    return findings;
  }
  const client = new CloudesireClient({ apiUrl: c.apiUrl, token: c.token, timeoutMs: c.timeoutMs, readAttempts: 2, backoffMs: c.backoffMs, ...(fetchImpl ? { fetchImpl } : {}) });
  try {
    await client.checkToken();
    findings.push({ status: "ok", check: "api", message: `${c.apiUrl} answers and accepts the token` });
  } catch (e) {
    findings.push(apiFailure(c.apiUrl, e));
    return findings;
  }
  // docs/api.md "Domains": a marketplace's API is https://backend-<its domain>/api.
  if (!/^https:\/\/backend-[^/]+\/api\/?$/.test(c.apiUrl)) findings.push({ status: "warn", check: "api", message: `${c.apiUrl} is not of the form https://backend-<marketplace domain>/api: is it the marketplace you mean (staging or production)?` });
  for (const id of c.productIds) {
    try {
      const product = await client.product(id);
      if (!product) {
        findings.push({ status: "fail", check: `product ${id}`, message: `${c.apiUrl} has no product ${id}: the staging and production marketplaces have their own ids (and tokens, and secrets)` });
        continue;
      }
      const plans = await client.plans(id);
      const items = new Map<string, CatalogItem>();
      for (const itemId of new Set(plans.flatMap((p) => (p.billingItemValues ?? []).map((v) => idOfLink(v.item)).filter((x): x is string => x !== null)))) {
        const item = await client.billingItem(itemId);
        if (item) items.set(itemId, item);
      }
      findings.push(...catalogFindings({ product, plans, items }, c, { limits, serviceUrl: c.serviceUrl }));
    } catch (e) {
      findings.push({ status: "fail", check: `product ${id}`, message: `product ${id} cannot be read: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  return findings;
}

function apiFailure(apiUrl: string, e: unknown): Finding {
  const err = e instanceof CloudesireError ? e : null;
  const refused = err?.status === 401 || err?.status === 403;
  return { status: "fail", check: "api", message: refused ? `${apiUrl} refuses the token (${err?.status}): issue a new one in the vendor profile (of this marketplace: staging and production tokens differ)` : `${apiUrl} cannot be used: ${e instanceof Error ? e.message : String(e)}` };
}
