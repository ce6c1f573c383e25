import type { TenantSpec } from "../domain/tenant-spec.js";

/**
 * The member role's ID by cloud, as the program last looked it up (`identity.getRole`: one Keystone request
 * and one provider invoke per update otherwise). The engine host keeps the program module loaded for its
 * life, so a burst of purchases asks Keystone once; an entry is trusted for `ttlMs` only, so a role an
 * operator recreated (a new ID) is seen again within that time. A failed lookup is never remembered.
 */
export class RoleIds {
  private readonly ids = new Map<string, { id: string; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  known(spec: Pick<TenantSpec, "cloud" | "memberRole">): string | undefined {
    const key = keyOf(spec);
    const hit = this.ids.get(key);
    if (hit && hit.until > this.now()) return hit.id;
    this.ids.delete(key);
    return undefined;
  }

  learn(spec: Pick<TenantSpec, "cloud" | "memberRole">, id: string): void {
    this.ids.set(keyOf(spec), { id, until: this.now() + this.ttlMs });
  }
}

// Roles are Keystone's, one set per cloud (not per region): the default target's cloud is the environment's.
const keyOf = (spec: Pick<TenantSpec, "cloud" | "memberRole">) => JSON.stringify([spec.cloud ?? null, spec.memberRole]);
