import { conflict, unavailable, type AppError } from "../domain/errors.js";
import type { TenantSpec } from "../domain/tenant-spec.js";
import type { QuotaReadBack } from "../domain/quota.js";
import type { CloudClient } from "../openstack/cloud-client.js";
import { leftoversOf } from "../openstack/leftovers.js";
import { startAfterSuspension, stopForSuspension } from "../openstack/server-power.js";
import type { Leftovers } from "./engine.js";
import { downsizeViolations, projectUsage } from "../openstack/project-usage.js";
import { describeRemaining, dropDefaultSecurityGroup, purgeProject, remainingResources } from "../openstack/project-resources.js";
import { enforceQuotaSets, resetQuotaSets } from "../openstack/quota-sets.js";

/** What to do with a cancelled project's servers, volumes, networks...: delete them, or stop and show them. */
export type OrphanPolicy = "purge" | "hold";

/** Checks the cloud before the engine runs: a refusal is a reason an operator can read. */
export interface TenantGuard {
  /** Null if the new spec fits what the project uses; otherwise why not (the update is refused). */
  beforeUp(projectId: string, spec: TenantSpec): Promise<string | null>;
  /**
   * Before the stack is destroyed: purges what Keystone would leave behind, or returns why the
   * cancellation is held (what remains). `onStep` hears each purge step (progress, logs).
   */
  beforeDestroy(projectId: string, onStep: (step: string) => void, target?: string): Promise<{ held: string } | null>;
  /** After an interrupted create: the project and user it may have left, recognised as this tenant's. */
  leftoversOf(spec: TenantSpec): Promise<Leftovers>;
  /**
   * After a successful `up`: the project's three quota sets end exactly as bought, whatever the provider
   * version did (v1.54.1's Neutron create drops zero values, so "0 IP addresses" stays at Neutron's
   * default of 50). Returns the corrections made ("network floatingip 50 -> 0"), empty when all were exact.
   * `readBack`: the sets the update wrote as the provider read them back (enforceQuotaSets reads only the
   * others that need it); absent, every set is read.
   */
  afterUp?(projectId: string, spec: TenantSpec, readBack?: QuotaReadBack): Promise<string[]>;
  /**
   * After an update: a suspended tenant's running servers are stopped, a resumed one's servers that the
   * suspension stopped are started again; returns what it did.
   */
  power?(projectId: string, enabled: boolean, target?: string): Promise<string[]>;
}

/** The guard of a real cloud: quota detail views for downsizes, resource listings for cancellations. */
export class CloudGuard implements TenantGuard {
  constructor(
    private readonly client: CloudClient,
    private readonly o: { policy: OrphanPolicy; pollMs: number; timeoutMs: number },
  ) {}

  async beforeUp(projectId: string, spec: TenantSpec): Promise<string | null> {
    const violations = downsizeViolations(spec.quotas, await projectUsage(this.client, projectId));
    return violations.length === 0 ? null : `downsize refused, the project uses more than the new plan allows: ${violations.join("; ")}`;
  }

  power(projectId: string, enabled: boolean): Promise<string[]> {
    return enabled ? startAfterSuspension(this.client, projectId) : stopForSuspension(this.client, projectId);
  }

  leftoversOf(spec: TenantSpec): Promise<Leftovers> {
    return leftoversOf(this.client, spec);
  }

  async afterUp(projectId: string, spec: TenantSpec, readBack?: QuotaReadBack): Promise<string[]> {
    return enforceQuotaSets(this.client, projectId, spec.quotas, readBack);
  }

  async beforeDestroy(projectId: string, onStep: (step: string) => void): Promise<{ held: string } | null> {
    const client = this.client;
    const remaining = await remainingResources(client, projectId);
    if (remaining.length > 0) {
      if (this.o.policy === "hold") return { held: `cancellation held (ORPHAN_POLICY=hold), the project still has: ${describeRemaining(remaining)}` };
      onStep(`purging what the project still has: ${describeRemaining(remaining)}`);
      await purgeProject(client, projectId, { pollMs: this.o.pollMs, timeoutMs: this.o.timeoutMs, onStep });
      const left = await remainingResources(client, projectId);
      if (left.length > 0) throw refusedToGo(describeRemaining(left));
    }
    // Nothing of the customer's is left: the default security group (which any listing recreates) goes last,
    // then the quota rows, which neither the provider's destroy nor Keystone removes.
    await dropDefaultSecurityGroup(client, projectId, onStep);
    for (const step of await resetQuotaSets(client, projectId)) onStep(step);
    return null;
  }
}

function refusedToGo(what: string): AppError {
  return conflict(`purge incomplete, still present: ${what}`);
}

/**
 * The guard of each target (its admin, in its region), chosen by the tenant's target: a stack in region B
 * is checked, purged and corrected in region B. `target` absent: the default target's.
 */
export class TargetGuards implements TenantGuard {
  constructor(private readonly guards: ReadonlyMap<string, TenantGuard>, private readonly defaultTarget: string) {}

  private of(target: string | undefined): TenantGuard {
    const name = target ?? this.defaultTarget;
    const guard = this.guards.get(name);
    if (!guard) throw unavailable(`target ${name} has no usable admin credentials: its tenants cannot be checked`);
    return guard;
  }

  beforeUp(projectId: string, spec: TenantSpec): Promise<string | null> {
    return this.of(spec.target).beforeUp(projectId, spec);
  }

  beforeDestroy(projectId: string, onStep: (step: string) => void, target?: string): Promise<{ held: string } | null> {
    return this.of(target).beforeDestroy(projectId, onStep);
  }

  leftoversOf(spec: TenantSpec): Promise<Leftovers> {
    return this.of(spec.target).leftoversOf(spec);
  }

  async afterUp(projectId: string, spec: TenantSpec, readBack?: QuotaReadBack): Promise<string[]> {
    return (await this.of(spec.target).afterUp?.(projectId, spec, readBack)) ?? [];
  }

  async power(projectId: string, enabled: boolean, target?: string): Promise<string[]> {
    return (await this.of(target).power?.(projectId, enabled)) ?? [];
  }
}
