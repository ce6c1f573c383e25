import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Debian's chromium, installed like the test cloud's packages (scripts/testcloud.sh) when it is missing:
 * the browser tests never download a browser of their own (playwright-core drives this one).
 */
export default function setup() {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) as root, then run the browser tests again`);
  const started = Date.now();
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", "chromium"]]) {
    const r = spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (${r.status ?? r.signal})`);
  }
  console.log(`chromium installed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}
