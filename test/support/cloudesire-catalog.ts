import { JsonText } from "./cloudesire-wire.js";

/** A product as a vendor sets it up on Cloudesire (what `SimCatalog.add` takes). */
export interface CatalogSetup {
  name?: string;
  type?: string;
  syndicationEndpoints?: string[];
  orderValidationUrl?: string | null;
  plans: Array<{ id: number; name?: string; published?: boolean; items: Record<string, { valueType?: string; presence?: string; ranges: Array<{ start: number; end: number | null; tag?: string | null }> }> }>;
}

/** The vendor's catalog in the Cloudesire simulator: products, plans (product versions), billing items, as Jackson writes them. */
export class SimCatalog {
  private readonly products = new Map<number, Record<string, unknown>>();
  private readonly plans = new Map<number, Record<string, unknown>>();
  private readonly items = new Map<number, Record<string, unknown>>();

  /**
   * The vendor's catalog as the doctor reads it (dto/ProductDTO, dto/ProductVersionDTO with its
   * BillingItemValueDTO ranges, dto/BillingItemDTO; enums ProductType, BillingItemValueType,
   * BillingItemPresence): a product, its plans, and their extra resources by identifier (one billing item
   * per identifier of a product, shared by the plans that price it).
   */
  add(productId: number, o: CatalogSetup): void {
    this.products.set(productId, {
      id: productId, self: `product/${productId}`, name: o.name ?? "OpenStack VDC", identifier: `openstack-vdc-${productId}`, type: o.type ?? "SYNDICATED",
      syndicationEndpoints: o.syndicationEndpoints ?? [], orderValidationUrl: o.orderValidationUrl ?? null, isSyndicated: (o.type ?? "SYNDICATED") === "SYNDICATED",
      notificationSecretToken: null, productVersion: o.plans.map((p) => ({ url: `productVersion/${p.id}` })), company: { url: "company/1" }, published: true,
    });
    for (const plan of o.plans) {
      const values = Object.entries(plan.items).flatMap(([identifier, item]) => {
        const itemId = this.itemIdOf(productId, identifier, item);
        return item.ranges.map((r) => ({ item: { url: `billingItem/${itemId}` }, start: r.start, end: r.end, price: new JsonText("1.0000"), step: 1, tag: r.tag ?? null, description: null }));
      });
      this.plans.set(plan.id, { id: plan.id, self: `productVersion/${plan.id}`, name: plan.name ?? `plan ${plan.id}`, product: { url: `product/${productId}` }, identifier: `plan-${plan.id}`, published: plan.published ?? true, billingPeriod: 1, billingItemValues: values, trial: null, drafted: false });
    }
  }

  private itemIdOf(productId: number, identifier: string, item: { valueType?: string; presence?: string }): number {
    const owner = { url: `product/${productId}` };
    const found = [...this.items.values()].find((i) => i.identifier === identifier && (i.owner as { url: string }).url === owner.url);
    if (found) return found.id as number;
    const id = 900 + this.items.size;
    this.items.set(id, { id, self: `billingItem/${id}`, name: identifier, identifier, unit: "unit", description: identifier, owner, type: "VOLUME", valueType: item.valueType ?? "PRE_PAID", presence: item.presence ?? "REQUIRED", required: null, downgradable: true, endpoint: null, weight: null });
    return id;
  }

  /**
   * `GET product/{id}`, `GET billingItem/{id}` (api/ProductApi, api/BillingItemApi), `GET productVersion?product=`
   * (api/ProductVersionApi): the body, null for an unknown id (404), undefined for another path.
   */
  read(path: string, query: URLSearchParams): unknown {
    const m = /^(product|billingItem)\/(\d+)$/.exec(path);
    if (m) return (m[1] === "product" ? this.products : this.items).get(Number(m[2])) ?? null;
    if (path === "productVersion") return [...this.plans.values()].filter((p) => (p.product as { url: string }).url === `product/${query.get("product")}`);
    return undefined;
  }
}
