import type { PlanLimits, Quantities } from "../../domain/plan.js";
import type { Finding } from "../../openstack/doctor.js";
import type { CatalogItem, CatalogPlan, CatalogProduct } from "./contract.js";
import { idOfLink } from "./contract.js";
import type { CloudesireProduct } from "./mapping.js";

/** What the doctor read of one product on the marketplace: the product, its plans, their extra resources by id. */
export interface Catalog {
  product: CatalogProduct;
  plans: CatalogPlan[];
  items: Map<string, CatalogItem>;
}

const SETTING: Record<keyof Quantities, string> = { cores: "PLAN_MAX_CORES", ramGb: "PLAN_MAX_RAM_GB", diskGb: "PLAN_MAX_DISK_GB", floatingIps: "PLAN_MAX_FLOATING_IPS" };
const LIMIT: Record<keyof Quantities, keyof PlanLimits> = { cores: "maxCores", ramGb: "maxRamGb", diskGb: "maxDiskGb", floatingIps: "maxFloatingIps" };

/**
 * Is the product set up as this service sells it (README "Selling on Cloudesire")? A Syndicated Product
 * (enums/ProductType SYNDICATED; a product's type cannot change, docs/onboarding.md); our notification and
 * order-validation URLs on it; a published plan; on every prepaid plan the four extra resources by the
 * configured identifiers, Pre-paid (BillingItemValueType PRE_PAID: billed in advance, which is what a
 * quota is), Required, in whole ranges from 1 (0 for IP addresses) up to PLAN_MAX_*, never tagged (a
 * tagged stairstep's quantity is "irrelevant", docs/onboarding-extra-resources.md); the PAYG plans are the
 * product's, with PAY_AS_YOU_GO extra resources for the metrics.
 */
export function catalogFindings(c: Catalog, product: Pick<CloudesireProduct, "items" | "paygPlans">, o: { limits?: PlanLimits | undefined; serviceUrl?: string | undefined }): Finding[] {
  const out: Finding[] = [];
  const name = `product ${c.product.id}${c.product.name ? ` (${c.product.name})` : ""}`;
  const check = `product ${c.product.id}`;
  if (c.product.type && c.product.type !== "SYNDICATED") {
    out.push({ status: "fail", check, message: `${name} is a ${c.product.type} product: this service needs a Syndicated Product, and a product's type cannot change (create a new one)` });
  }
  const base = o.serviceUrl?.replace(/\/+$/, "");
  if (base) {
    const events = `${base}/v1/cloudesire/events`;
    if (!(c.product.syndicationEndpoints ?? []).includes(events)) out.push({ status: "fail", check, message: `${name} does not notify ${events} (its syndication endpoints: ${(c.product.syndicationEndpoints ?? []).join(", ") || "none"})` });
    const validation = `${base}/v1/cloudesire/order-validation`;
    if (c.product.orderValidationUrl !== validation) out.push({ status: "warn", check, message: `${name}'s order validation URL is ${c.product.orderValidationUrl ?? "not set"}, not ${validation}: orders over PLAN_MAX_* are refused only after they are paid` });
  } else {
    out.push({ status: "warn", check, message: "CLOUDESIRE_SERVICE_URL is not set: the product's notification and order-validation URLs cannot be checked" });
  }
  if (!c.plans.some((p) => p.published)) out.push({ status: "fail", check, message: `${name} has no published plan: nothing can be ordered` });
  const planIds = new Set(c.plans.map((p) => String(p.id)));
  for (const payg of product.paygPlans) {
    if (!planIds.has(payg)) out.push({ status: "fail", check, message: `CLOUDESIRE_PAYG_PLANS names plan ${payg}, which is not a plan of ${name}` });
  }
  for (const plan of c.plans) {
    const values = (plan.billingItemValues ?? []).map((v) => ({ ...v, item: c.items.get(idOfLink(v.item) ?? "") }));
    const where = `plan ${plan.id}${plan.name ? ` (${plan.name})` : ""}`;
    if (product.paygPlans.includes(String(plan.id))) {
      if (!values.some((v) => v.item?.valueType === "PAY_AS_YOU_GO")) out.push({ status: "warn", check, message: `${where} is sold pay-as-you-go but has no Pay-as-you-go extra resource: link each metric to one (the product's Metrics tab)` });
      continue;
    }
    if (values.length > 0 && values.every((v) => v.item?.valueType === "PAY_AS_YOU_GO")) {
      out.push({ status: "fail", check, message: `${where} has only Pay-as-you-go extra resources: name it in CLOUDESIRE_PAYG_PLANS, or give it the prepaid ones` });
      continue;
    }
    for (const key of Object.keys(SETTING) as Array<keyof Quantities>) {
      const identifier = product.items[key];
      const ranges = values.filter((v) => v.item?.identifier === identifier);
      if (ranges.length === 0) {
        out.push({ status: "fail", check, message: `${where} has no extra resource "${identifier}": its orders are refused (every prepaid plan needs the same identifiers)` });
        continue;
      }
      const item = ranges[0]?.item;
      if (item?.valueType && item.valueType !== "PRE_PAID") out.push({ status: "fail", check, message: `${where}: "${identifier}" is ${item.valueType}, not Pre-paid: a quota is bought in advance` });
      if (item?.presence && item.presence !== "REQUIRED") out.push({ status: "warn", check, message: `${where}: "${identifier}" is ${item.presence}, not Required: an order without it is refused` });
      if (ranges.some((r) => r.tag)) out.push({ status: "fail", check, message: `${where}: "${identifier}" has tagged ranges: the customer then picks a tag and its quantity means nothing` });
      const min = key === "floatingIps" ? 0 : 1;
      const starts = Math.min(...ranges.map((r) => r.start ?? 0));
      if (starts < min) out.push({ status: "warn", check, message: `${where}: "${identifier}" starts at ${starts}: fewer than ${min} is refused` });
      const limit = o.limits?.[LIMIT[key]];
      const ends = ranges.map((r) => r.end ?? null);
      if (limit !== undefined && (ends.includes(null) || Math.max(...(ends as number[])) > limit)) {
        out.push({ status: "fail", check, message: `${where}: "${identifier}" goes past ${SETTING[key]} (${limit}): ${ends.includes(null) ? "its last range has no Max" : `up to ${Math.max(...(ends as number[]))}`}, and more is refused after it is paid` });
      }
    }
  }
  if (out.length === 0) out.push({ status: "ok", check, message: `${name} is a Syndicated Product notifying this service; its plans' extra resources are as this service sells them` });
  return out;
}
