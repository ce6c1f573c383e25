import { describe, expect, it } from "vitest";
import { createLogger, makeRedactor } from "../../../src/log.js";
import { event } from "../../support/events.js";
import { harness } from "../../support/harness.js";

const records = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe("structured logs (pino)", () => {
  it("one JSON line per request, naming the subscription and the event, with status and duration", async () => {
    const h = await harness();
    await h.send(event("42", "subscription.created", { id: "evt-log-1" }));
    await h.reconciler.idle();
    await h.asOperator("/v1/subscriptions/42");
    const logs = records(h.logs);
    const webhook = logs.filter((r) => r.msg === "request" && r.path === "/v1/events");
    expect(webhook).toHaveLength(1);
    expect(webhook[0]).toMatchObject({ level: "info", method: "POST", status: 202, subscription: "42", event: "evt-log-1", outcome: "applied", service: "openstack-tenants" });
    expect(typeof webhook[0]?.durationMs).toBe("number");
    expect(typeof webhook[0]?.time).toBe("string");
    expect(logs.find((r) => r.msg === "request" && r.path === "/v1/subscriptions/42")).toMatchObject({ status: 200, subscription: "42" });
  });

  it("one line per operation with subscription, event, stack, operation, duration and result", async () => {
    const h = await harness();
    await h.send(event("43", "subscription.created", { id: "evt-log-2" }));
    await h.reconciler.idle();
    const op = records(h.logs).filter((r) => r.msg === "operation");
    expect(op).toHaveLength(1);
    expect(op[0]).toMatchObject({ subscription: "43", event: "evt-log-2", stack: "sub-43", kind: "up", result: "succeeded" });
    expect(typeof op[0]?.operation).toBe("number");
    expect(typeof op[0]?.durationMs).toBe("number");
  });

  it("redaction is configuration: secret field paths are censored, and known secret values anywhere", () => {
    const lines: string[] = [];
    const log = createLogger({ redact: makeRedactor(["s3cr3t-admin-pass"]), write: (l) => lines.push(l) });
    log.info("connect", { password: "hunter2-field", credentials: { token: "tok-123" }, headers: { authorization: "Bearer abc" }, note: "auth failed for s3cr3t-admin-pass" });
    const all = lines.join("\n");
    for (const s of ["hunter2-field", "tok-123", "Bearer abc", "s3cr3t-admin-pass"]) expect(all).not.toContain(s);
    const r = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    expect(r.password).toBe("[redacted]");
    expect(r.note).toBe("auth failed for [redacted]");
  });

  it("secrets with quotes, backslashes or control characters are redacted too (before the line is serialised)", () => {
    const secrets = ['pa"ss-word-1', "back\\slash-secret", "line\nbreak-secret", "tab\tand\u0001ctl-secret", "uni\u2028code-secret"];
    const lines: string[] = [];
    const log = createLogger({ redact: makeRedactor(secrets), write: (l) => lines.push(l) });
    for (const secret of secrets) {
      log.error(`auth failed for ${secret}`, { detail: `stderr: ${secret}`, nested: { list: [`x ${secret} y`] } });
      log.error("as a key", { [secret]: 1 });
    }
    const all = lines.join("\n");
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(JSON.stringify(secret).slice(1, -1)); // nor its escaped form
    }
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ msg: "auth failed for [redacted]", detail: "stderr: [redacted]", nested: { list: ["x [redacted] y"] } });
  });

  it("secret field names are censored at any depth, whatever their case", () => {
    const lines: string[] = [];
    const log = createLogger({ redact: makeRedactor([]), write: (l) => lines.push(l) });
    log.info("deep", { a: { b: { c: { password: "deep-pass-1", d: [{ token: "deep-tok-2" }] } } }, e: { f: { g: { Authorization: "Bearer deep-3" } } } });
    const all = lines.join("\n");
    for (const s of ["deep-pass-1", "deep-tok-2", "Bearer deep-3"]) expect(all).not.toContain(s);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ a: { b: { c: { password: "[redacted]", d: [{ token: "[redacted]" }] } } } });
  });
});
