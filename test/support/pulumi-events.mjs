// For the stand-in `pulumi` CLIs of the unit tests: sends engine events to the event log the Automation API
// opened, as the real CLI does since v3.206 (`--event-log tcp://127.0.0.1:<port>`: a client-streaming
// pulumirpc.Events/StreamEvents call whose requests carry one JSON engine event each; automation/stack.js
// setupEventLog and EventsServer, proto/events.proto). Built on the SDK's own generated client.
import fs from "node:fs";
import { createRequire } from "node:module";
const require = createRequire(new URL("../../package.json", import.meta.url));
const grpc = require("@grpc/grpc-js");
const { EventsClient } = require("@pulumi/pulumi/proto/events_grpc_pb.js");
const { EventRequest } = require("@pulumi/pulumi/proto/events_pb.js");

/** Sends `events` (objects in the engine's EngineEvent shape) to the log named by `--event-log`, if any. */
export function sendEvents(args, events) {
  const at = args.indexOf("--event-log");
  const target = at >= 0 ? args[at + 1] : undefined;
  if (!target?.startsWith("tcp://")) return Promise.resolve();
  const client = new EventsClient(target.slice("tcp://".length), grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.streamEvents((err) => {
      client.close();
      if (err) reject(err);
      else resolve();
    });
    for (const [i, e] of events.entries()) call.write(new EventRequest().setEvent(JSON.stringify({ sequence: i + 1, timestamp: Math.floor(Date.now() / 1000), ...e })));
    call.end();
  });
}

/**
 * The three quota resources' outputs as a real update left them in a stack's state (this project's provider build
 * of terraform-provider-openstack v3.4.0, a 2-core plan on the test cloud): test/fixtures/pulumi/quota-outputs-tf-openstack-v3.4.0.json.
 */
const QUOTA_OUTPUTS = JSON.parse(fs.readFileSync(new URL("../fixtures/pulumi/quota-outputs-tf-openstack-v3.4.0.json", import.meta.url), "utf8"));

/**
 * The events of an update that created the tenant's six resources and exported `outputs`; the quota resources'
 * steps are `quotaOp` ("same": an update that left them as they were).
 */
export function createdTenant(outputs, quotaOp = "create") {
  const stack = "urn:pulumi:stand-in::openstack-tenants::pulumi:pulumi:Stack::openstack-tenants-stand-in";
  const quotas = Object.entries(QUOTA_OUTPUTS).map(([type, out]) => {
    const urn = `urn:pulumi:stand-in::openstack-tenants::${type}::${type.split(":").at(-1)}`;
    return { resOutputsEvent: { metadata: { op: quotaOp, urn, type, new: { type, urn, outputs: out } } } };
  });
  return [
    ...quotas,
    { resOutputsEvent: { metadata: { op: "create", urn: stack, type: "pulumi:pulumi:Stack", new: { type: "pulumi:pulumi:Stack", urn: stack, outputs } } } },
    { summaryEvent: { maybeCorrupt: false, durationSeconds: 1, resourceChanges: { create: 6 }, PolicyPacks: {} } },
  ];
}
