/**
 * The real service (startService with no engine override, embedded PGlite in DATA_DIR) as a child process,
 * for test/unit/provisioning/engine-host.test.ts: once its health check has asked the engine for the CLI's
 * version, it prints which of its own loaded modules belong to @pulumi/pulumi, which child process is its
 * engine host, and whether that child is gone after close(). One JSON line on stdout.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadConfig } from "../../src/config.js";
import { startService } from "../../src/server.js";

/** Children of this process whose command line names the engine host (Linux /proc). */
function engineHostPids(): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const ppid = Number(readFileSync(`/proc/${d}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]);
      return ppid === process.pid && readFileSync(`/proc/${d}/cmdline`, "utf8").includes("engine-host-child");
    } catch {
      return false; // it ended while we looked
    }
  }).map(Number);
}

const config = loadConfig(process.env);
const service = await startService(config);
const health = (await (await fetch(`${service.url}/healthz`, { headers: { authorization: `Bearer ${config.operatorToken}` } })).json()) as { engine: string };
// CommonJS modules, even those an ES module imported, are in the CJS loader's cache (all of @pulumi/pulumi is CommonJS).
const pulumiModules = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes("/@pulumi/pulumi/"));
const hosts = engineHostPids();
await service.close();
process.stdout.write(`${JSON.stringify({ engine: health.engine, pulumiModules, hosts, hostsAfterClose: hosts.filter((p) => existsSync(`/proc/${p}`)) })}\n`);
process.exit(0);
