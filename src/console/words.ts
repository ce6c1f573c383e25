import type { Phase, Status, Subscription } from "./types.js";

/**
 * What each phase and status means, for the filters' choices and their help (domain/lifecycle.ts says the
 * same). A `Record` of the API's own enums: a phase added there fails to compile here until it is described.
 */
export const PHASES: Record<Phase, string> = {
  pending: "waiting for its stack update",
  applying: "its stack update runs",
  ready: "applied: the tenant is as bought",
  failed: "the last update failed for good: retry it once the cause is fixed",
  held: "a cancellation waits for an operator (the project still has resources)",
  waiting: "the service cannot provision yet (configuration missing); resumes by itself",
  cancelled: "destroyed, final",
};

export const STATUSES: Record<Status, string> = {
  active: "active",
  suspended: "suspended by the marketplace",
  cancelled: "cancelled by the marketplace",
};

export const planText = (p: Subscription["plan"]): string =>
  p.model === "prepaid"
    ? `prepaid: ${p.cores} cores, ${p.ramGb} GB RAM, ${p.diskGb} GB disk, ${p.floatingIps} floating IPs`
    : `pay-as-you-go${p.trial ? " (trial)" : ""}`;
