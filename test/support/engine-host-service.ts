/**
 * The real service as an operator starts it (`tenantctl serve`: src/cli.ts, no engine override, embedded
 * PGlite in DATA_DIR), in this process, for test/unit/provisioning/engine-host.test.ts: once its health
 * check has asked the engine for the CLI's version, it prints which of its own loaded modules belong to
 * @pulumi/pulumi, which child process is its engine host, and (after SIGTERM's orderly shutdown) whether
 * that child is gone. One JSON line on stdout.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";

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

const port = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const a = s.address();
    s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
  });
});
process.env.PORT = String(port);
process.argv = [process.argv[0] ?? "node", "src/cli.ts", "serve"];
await import("../../src/cli.js");

const deadline = Date.now() + 90_000;
let health: { engine?: string } | undefined;
while (!health) {
  if (Date.now() > deadline) throw new Error("the service did not answer /healthz");
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { authorization: `Bearer ${process.env.OPERATOR_TOKEN}` } }).catch(() => null);
  if (res?.ok) health = (await res.json()) as { engine?: string };
  else await new Promise((r) => setTimeout(r, 100));
}
// CommonJS modules, even those an ES module imported, are in the CJS loader's cache (all of @pulumi/pulumi is CommonJS).
const pulumiModules = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes("/@pulumi/"));
const hosts = engineHostPids();
// `tenantctl serve` ends on SIGTERM once service.close() is done, which ends the engine host.
process.once("exit", () => {
  process.stdout.write(`${JSON.stringify({ engine: health?.engine, pulumiModules, hosts, hostsAfterClose: hosts.filter((p) => existsSync(`/proc/${p}`)) })}\n`);
});
process.kill(process.pid, "SIGTERM");
