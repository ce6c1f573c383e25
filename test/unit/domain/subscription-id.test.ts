import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SubscriptionId, stackNameOf } from "../../../src/domain/subscription-id.js";

describe("stack names from subscription ids", () => {
  it("a safe id becomes sub-<id>", () => {
    expect(stackNameOf("42")).toBe("sub-42");
    expect(stackNameOf("acme-2026-x")).toBe("sub-acme-2026-x");
  });

  it.each(["", "../etc", "Sub42", "a b", "a/b", "-a", "a-", "x".repeat(49), "ü", "a.b", "a_b"])("the unsafe id %j is refused", (id) => {
    expect(SubscriptionId.safeParse(id).success).toBe(false);
    expect(() => stackNameOf(id)).toThrow();
  });

  it("every accepted id gives a stack name that is also a safe file name", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (id) => {
        if (!SubscriptionId.safeParse(id).success) return;
        expect(stackNameOf(id)).toMatch(/^sub-[a-z0-9-]+$/);
      }),
    );
  });
});
