import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    testcloud: Record<string, string>;
  }
}

/**
 * Starts the project's own test cloud (real Keystone, Nova, Cinder, Neutron, Placement, Gnocchi and
 * PostgreSQL on loopback, installing the Debian packages if missing) once per run, and stops it after. TESTCLOUD_KEEP=1 leaves it running for
 * the next run (it is reused when alive).
 */
export default function setup(project: TestProject) {
  const started = Date.now();
  const out = execFileSync("bash", ["scripts/testcloud.sh", "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 1_200_000 });
  const envFile = out.trim().split("\n").pop() ?? "";
  const env = Object.fromEntries(
    readFileSync(envFile, "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  console.log(`test cloud ready in ${((Date.now() - started) / 1000).toFixed(1)}s (keystone ${env.OS_AUTH_URL}, nova ${env.TESTCLOUD_NOVA_URL}, cinder ${env.TESTCLOUD_CINDER_URL}, neutron ${env.TESTCLOUD_NEUTRON_URL}, gnocchi ${env.GNOCCHI_URL})`);
  project.provide("testcloud", env);
  return () => {
    if (!process.env.TESTCLOUD_KEEP) execFileSync("bash", ["scripts/testcloud.sh", "down"], { stdio: "inherit" });
  };
}
