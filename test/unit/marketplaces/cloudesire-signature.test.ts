import { describe, expect, it } from "vitest";
import { signNotification, verifyNotificationRotating } from "../../../src/marketplaces/cloudesire/signature.js";

const body = new TextEncoder().encode('{"entity":"Subscription","id":4242,"type":"MODIFIED"}');
const NEW = "cd-new-event-secret-0123456789";
const OLD = "cd-old-event-secret-0123456789";

describe("rotating Cloudesire's event secret without downtime", () => {
  it("during the rotation a notification signed with either secret is accepted, and says which", () => {
    expect(verifyNotificationRotating(NEW, OLD, signNotification(NEW, body), body)).toBe("current");
    expect(verifyNotificationRotating(NEW, OLD, signNotification(OLD, body), body)).toBe("previous");
  });

  it("without a previous secret only the current one opens; a third secret never does", () => {
    expect(() => verifyNotificationRotating(NEW, undefined, signNotification(OLD, body), body)).toThrow(/bad CMW-Event-Signature \(expected sha1=<lowercase hex/);
    expect(() => verifyNotificationRotating(NEW, OLD, signNotification("cd-some-other-secret-012345", body), body)).toThrow(/bad CMW-Event-Signature/);
    expect(() => verifyNotificationRotating(NEW, OLD, undefined, body)).toThrow(/missing CMW-Event-Signature \(expected sha1=<lowercase hex HMAC-SHA1 of the raw body/);
  });
});
