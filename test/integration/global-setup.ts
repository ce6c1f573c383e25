import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    testcloud: Record<string, string>;
    /** scripts/pulumi-toolchain.sh: the directory of the real binaries, and what could not be built, and why. */
    toolchain: { bin: string | null; missing: string[]; error: string | null };
  }
}

/** Runs a script, its stderr passed through; resolves with its stdout's last line, rejects with its exit. */
function script(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", args, { stdio: ["ignore", "pipe", "inherit"], timeout: timeoutMs });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out.trim().split("\n").pop() ?? "") : reject(new Error(`${args.join(" ")} exited with ${code}`))));
  });
}

const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

/**
 * Starts, side by side, the project's own test cloud (real Keystone, Nova, Cinder, Neutron, Placement,
 * Gnocchi and PostgreSQL on loopback, installing the Debian packages if missing) and the real Pulumi
 * toolchain (built from the Go module proxy the first time, then cached), once per run; stops the cloud
 * after. TESTCLOUD_KEEP=1 leaves it running for the next run (it is reused when alive). The integration
 * and e2e projects both name this file: the scripts take a lock, so the second call finds the first's work
 * (the integration project waits for the cloud only; the toolchain goes on building for the e2e project).
 */
export default async function setup(project: TestProject) {
  const started = Date.now();
  const cloud = script(["scripts/testcloud.sh", "up"], 1_200_000).then((envFile) => {
    console.log(`test cloud ready in ${seconds(started)}s`);
    return Object.fromEntries(
      readFileSync(envFile, "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  });
  // A toolchain that cannot be built is not the integration suite's failure: the e2e suite says why it cannot run.
  const toolchain = script(["scripts/pulumi-toolchain.sh"], 2_400_000).then(
    (bin) => {
      console.log(`pulumi toolchain ready in ${seconds(started)}s (${bin})`);
      const missing = readFileSync(`${bin}/../missing`, "utf8").split("\n").filter((l) => l.trim() !== "");
      return { bin, missing, error: null };
    },
    (e: unknown) => ({ bin: null, missing: [], error: e instanceof Error ? e.message : String(e) }),
  );
  const env = await cloud;
  console.log(`test cloud: keystone ${env.OS_AUTH_URL}, nova ${env.TESTCLOUD_NOVA_URL}, cinder ${env.TESTCLOUD_CINDER_URL}, neutron ${env.TESTCLOUD_NEUTRON_URL}, gnocchi ${env.GNOCCHI_URL}`);
  project.provide("testcloud", env);
  if (project.name === "e2e") project.provide("toolchain", await toolchain);
  return () => {
    if (!process.env.TESTCLOUD_KEEP) return script(["scripts/testcloud.sh", "down"], 120_000).then(() => undefined);
  };
}
