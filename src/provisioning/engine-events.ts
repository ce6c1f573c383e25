import type { EngineEvent } from "@pulumi/pulumi/automation/index.js";
import { z } from "zod";
import type { DriftDifference } from "../domain/drift.js";
import { BlockStorageQuota, ComputeQuota, NetworkQuota, QuotaReadBack, type QuotaSets } from "../domain/quota.js";
import { TENANT_RESOURCES } from "../domain/tenant-spec.js";
import type { QuotaService } from "../openstack/quota-sets.js";
import type { ProgressSink } from "./engine.js";

/**
 * What one command's event stream says that the SDK would otherwise ask the CLI for after it: the root
 * stack's outputs and the summary (its change counts); every event is passed on to `next` (live progress).
 */
export class EventCapture {
  stackOutputs: Record<string, unknown> | undefined;
  summary: { resourceChanges: Record<string, number> } | undefined;
  private readonly readBack: QuotaReadBack = {};
  constructor(private readonly next?: (e: EngineEvent) => void) {}

  readonly listener = (e: EngineEvent): void => {
    const outputs = e.resOutputsEvent?.metadata;
    if (outputs?.type === "pulumi:pulumi:Stack") this.stackOutputs = outputs.new?.outputs;
    const quota = outputs ? QUOTA_RESOURCES[outputs.type] : undefined;
    if (outputs && quota && WRITTEN.has(outputs.op)) {
      const parsed = quota.schema.safeParse(outputs.new?.outputs);
      Object.assign(this.readBack, { [quota.service]: parsed.success ? parsed.data : null });
    }
    if (e.summaryEvent) this.summary = { resourceChanges: e.summaryEvent.resourceChanges as Record<string, number> };
    this.next?.(e);
  };

  changes(): Record<string, number> {
    return counts(this.summary?.resourceChanges);
  }

  /** The quota sets the update wrote, as the provider read them back; only from a stream seen to its end. */
  quotaSets(): QuotaReadBack | undefined {
    return this.summary ? QuotaReadBack.parse(this.readBack) : undefined;
  }
}

/**
 * The program's quota resources (TENANT_RESOURCES) by type, with the quota set each is: the program passes
 * the set's fields as the resource's inputs under the same names (program/tenant.ts), so its outputs carry them
 * too (other outputs, `projectId`, `region`, `volumeTypeQuota`, are dropped).
 */
const typeOf = (name: (typeof TENANT_RESOURCES)[number]["name"]) => TENANT_RESOURCES.find((r) => r.name === name)?.type ?? name;
const QUOTA_RESOURCES: Record<string, { service: QuotaService; schema: z.ZodType<QuotaSets[QuotaService]> } | undefined> = {
  [typeOf("compute-quota")]: { service: "compute", schema: z.object(ComputeQuota.shape) },
  [typeOf("blockstorage-quota")]: { service: "blockStorage", schema: z.object(BlockStorageQuota.shape) },
  [typeOf("network-quota")]: { service: "network", schema: z.object(NetworkQuota.shape) },
};
/**
 * The steps after which a resource's outputs are the provider's read of the service: a Terraform resource's
 * Create and Update end with its Read (terraform-provider-openstack's quota resources: `return ...Read(...)`).
 */
const WRITTEN = new Set<string>(["create", "update", "replace", "create-replacement"]);

/** Our own resources only: the stack and the provider are Pulumi's bookkeeping, not the tenant. */
const isTenantResource = (type: string) => !type.startsWith("pulumi:");
/** A resource's logical name: the last part of its URN. */
export const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

/** The tenant's resources' steps (started, done, failed) of a command's event stream, for its live progress. */
export function progressOf(sink: ProgressSink | undefined): ((e: EngineEvent) => void) | undefined {
  if (!sink) return undefined;
  return (e) => {
    const step = e.resourcePreEvent ?? e.resOutputsEvent ?? e.resOpFailedEvent;
    if (!step || !isTenantResource(step.metadata.type) || ("planning" in step && step.planning)) return;
    const state = e.resourcePreEvent ? "started" : e.resOutputsEvent ? "done" : "failed";
    sink({ name: nameOf(step.metadata.urn), type: step.metadata.type, op: step.metadata.op, state });
  };
}

/** One difference found by a refresh preview: a resource changed (or deleted) outside the stack. */
export function driftOf(e: EngineEvent): DriftDifference | null {
  const step = e.resOutputsEvent;
  if (!step || !isTenantResource(step.metadata.type)) return null;
  const m = step.metadata;
  const properties = [...new Set([...(m.diffs ?? []), ...Object.keys(m.detailedDiff ?? {})])].sort();
  if (m.op === "same" || (m.op === "refresh" && properties.length === 0)) return null;
  return { resource: nameOf(m.urn), type: m.type, change: m.op === "refresh" ? "update" : m.op, properties };
}

/** A change summary's counts (the SDK's, of a summary event, a preview or a history entry), numbers only. */
export function counts(changes: Record<string, number> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(changes ?? {}).filter(([, n]) => typeof n === "number"));
}
