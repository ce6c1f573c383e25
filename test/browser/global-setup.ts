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
  // One apt at a time with the test cloud's and promtool's installs, which other projects' setups run meanwhile.
  const r = spawnSync("bash", ["scripts/apt-install.sh", "chromium"], { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`scripts/apt-install.sh chromium failed (${r.status ?? r.signal})`);
  console.log(`chromium installed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}
