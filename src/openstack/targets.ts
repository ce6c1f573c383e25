import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { DEFAULT_TARGET_NAME, TargetsFile, type SellingPolicy, type TargetPlacement } from "../domain/target.js";
import { readAdminCredentials, type AdminCredentials, type CredentialResult } from "./credentials.js";

/**
 * One target as the service runs it: what tenants' declarations take from it, and what the service itself
 * needs there (admin credentials for its region, Gnocchi, the selling policy over its Placement).
 */
export interface TargetConfig {
  placement: TargetPlacement;
  /** The admin credentials in this target's region (their `regionName` is the target's). */
  credentials: CredentialResult;
  gnocchiUrl: string | undefined;
  dashboardUrl: string | undefined;
  selling: SellingPolicy;
}

/** What a target takes from the default configuration when TARGETS_FILE leaves it out. */
export interface TargetDefaults {
  credentials: CredentialResult;
  memberRole: string;
  region: string;
  authUrl: string;
  gnocchiUrl: string | undefined;
  dashboardUrl: string | undefined;
}

/** Why TARGETS_FILE cannot be used: the start stops with it. */
export class TargetsFileError extends Error {}

/**
 * The targets of TARGETS_FILE (YAML or JSON), each completed from the defaults; without the file, one
 * target named "default": today's single cloud and region, exactly as configured by OS_* and TENANT_*.
 */
export function readTargets(file: string | undefined, rawEnv: Record<string, string | undefined>, d: TargetDefaults): { defaultTarget: string; targets: TargetConfig[] } {
  if (!file) {
    return {
      defaultTarget: DEFAULT_TARGET_NAME,
      targets: [{
        placement: { name: DEFAULT_TARGET_NAME, label: DEFAULT_TARGET_NAME, region: d.region, authUrl: d.authUrl, memberRole: d.memberRole },
        // Exactly today's credentials: their region (or none, the catalog's first) is what it always was.
        credentials: d.credentials, gnocchiUrl: d.gnocchiUrl, dashboardUrl: d.dashboardUrl, selling: {},
      }],
    };
  }
  let parsed: TargetsFile;
  try {
    parsed = TargetsFile.parse(parseYaml(readFileSync(file, "utf8")));
  } catch (e) {
    const why = e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") : e instanceof Error ? e.message : String(e);
    throw new TargetsFileError(`TARGETS_FILE ${file}: ${why}`);
  }
  const defaultTarget = parsed.default ?? (parsed.targets[0]?.name as string);
  const defaultCloud = rawEnv.OS_CLOUD;
  const targets = parsed.targets.map((t): TargetConfig => {
    // A cloud of its own: its credentials from the clouds.yaml; the default's cloud (or none): the default's.
    const own = t.cloud !== undefined && t.cloud !== defaultCloud;
    const base = own ? readAdminCredentials({ ...rawEnv, OS_CLOUD: t.cloud, OS_REGION_NAME: undefined }) : d.credentials;
    const region = t.region ?? (base.ok ? base.credentials.regionName : undefined) ?? d.region;
    const authUrl = t.authUrl ?? (own && base.ok ? base.credentials.authUrl : d.authUrl);
    return {
      placement: { name: t.name, label: t.label ?? t.name, region, authUrl, memberRole: t.memberRole ?? d.memberRole, ...(own ? { cloud: t.cloud } : {}) },
      credentials: inRegion(base, region),
      gnocchiUrl: t.gnocchiUrl ?? (own ? undefined : d.gnocchiUrl),
      dashboardUrl: t.dashboardUrl ?? (own ? undefined : d.dashboardUrl),
      selling: t.selling ?? {},
    };
  });
  return { defaultTarget, targets };
}

/** The same admin in another region: the catalog's endpoints of that region are the ones used. */
function inRegion(c: CredentialResult, region: string): CredentialResult {
  return c.ok ? { ok: true, credentials: { ...c.credentials, regionName: region } } : c;
}

/** The admin credentials of each target that has usable ones. */
export function adminsOf(targets: readonly TargetConfig[]): Map<string, AdminCredentials> {
  return new Map(targets.flatMap((t) => (t.credentials.ok ? [[t.placement.name, t.credentials.credentials] as const] : [])));
}
