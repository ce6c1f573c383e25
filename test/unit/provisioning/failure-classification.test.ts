import { describe, expect, it } from "vitest";
import { conciseError, isTransientEngineError } from "../../../src/provisioning/failure-classification.js";

describe("which engine errors are worth retrying", () => {
  it.each([
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file",
    "Error creating OpenStack project: Expected HTTP response code [201] when accessing [POST http://k/v3/projects], but got 503 instead ... returned 503",
    "dial tcp 127.0.0.1:5000: connect: connection refused",
    "read ECONNRESET",
    "503 Service Unavailable",
  ])("transient: %s", (m) => expect(isTransientEngineError(m)).toBe(true));

  it.each([
    "Error: Could not find role member",
    "Expected HTTP response code [201] when accessing [POST http://k/v3/users], but got 409 instead: Conflict",
    "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE",
  ])("permanent: %s", (m) => expect(isTransientEngineError(m)).toBe(false));

  it("keeps the error lines of a long CLI output, bounded", () => {
    const long = ["Updating (sub-42)", ...Array.from({ length: 200 }, (_, i) => `  + resource ${i}`), "error: update failed", "  error: boom"].join("\n");
    expect(conciseError(long)).toBe("error: update failed\n  error: boom");
    expect(conciseError("x".repeat(5000)).length).toBeLessThanOrEqual(2001);
  });
});
