import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PROGRAM_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "program");
const PROVIDER_PACKAGE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", "@pulumi", "openstack", "package.json");

/**
 * The version of what declares a tenant: the program's own files (src/program, and the domain modules
 * that shape the spec are in the spec itself) and the provider package that applies it. A new version
 * of either is a fleet change: ready stacks show it in the rollout plan and get it through a rollout,
 * never silently. Read once at start; `p-` + 12 hex characters of a hash, plus the provider's version.
 */
export function programVersion(dir = PROGRAM_DIR, providerPackage = PROVIDER_PACKAGE): string {
  const hash = createHash("sha256");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
    hash.update(`${file}\n`).update(readFileSync(join(dir, file)));
  }
  let provider = "unknown";
  try {
    provider = String((JSON.parse(readFileSync(providerPackage, "utf8")) as { version?: unknown }).version ?? "unknown");
  } catch {
    // A bundled deployment without node_modules/@pulumi/openstack/package.json: the program's hash alone.
  }
  return `p-${hash.digest("hex").slice(0, 12)}+openstack-${provider.replace(/^v/, "")}`;
}
