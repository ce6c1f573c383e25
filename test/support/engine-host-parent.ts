/**
 * A stand-in for the service around an engine host, for test/e2e/real-cli.test.ts: starts the host (the
 * real PulumiEngine over the real CLI on PATH, running test/support/slow-program.ts inline), begins an
 * update of ENGINE_PARENT_STACK, prints the host's pid as one JSON line, and waits: the test kills this
 * process with SIGKILL, as a crash of the service would end it.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { foldEvent } from "../../src/domain/subscription.js";
import { tenantSpecOf } from "../../src/domain/tenant-spec.js";
import { EngineHostClient } from "../../src/provisioning/engine-host.js";
import { event } from "./events.js";
import { SETTINGS } from "./settings.js";

const { ENGINE_PARENT_WORKDIR: workDir, ENGINE_PARENT_BACKEND: backendUrl, ENGINE_PARENT_STACK: stack } = process.env;
if (!workDir || !backendUrl || !stack) throw new Error("ENGINE_PARENT_WORKDIR, ENGINE_PARENT_BACKEND and ENGINE_PARENT_STACK are required");
const host = new EngineHostClient({
  engine: { workDir, backendUrl, passphrase: "e2e-passphrase-0123", openstackEnv: {}, secrets: [], inlineProgram: pathToFileURL(resolve("test/support/slow-program.ts")).href },
});
const spec = tenantSpecOf(foldEvent(null, event(stack.replace(/^sub-/, ""), "subscription.created")).state as never, SETTINGS);
void host.up({ stack, spec, password: "e2e-password-0123456789", message: "update begun by a service that then crashed" }).catch(() => {});
await host.check(); // the host is up (its pid known) once it answers
process.stdout.write(`${JSON.stringify({ hostPid: host.pid })}\n`);
setInterval(() => {}, 60_000);
