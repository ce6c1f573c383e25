import { describe, expect, it } from "vitest";
import { describeProviderVersion } from "../../../src/provisioning/provider-build.js";

describe("the provider build an operator is told about", () => {
  it("this project's build says what it is made of (tools/openstack-provider/provider.go's Version())", () => {
    expect(describeProviderVersion("3.15.2+openstack-tenants.tf-openstack.3.4.0.bridge.3.120.0.resources.6\n")).toBe(
      "this project's build of terraform-provider-openstack v3.4.0 (pulumi-terraform-bridge v3.120.0, 6 resources mapped), answering as v3.15.2",
    );
  });
  it("any other version is the official plugin's", () => {
    expect(describeProviderVersion("v3.15.2")).toBe("the official provider v3.15.2");
    expect(describeProviderVersion("3.16.0")).toBe("the official provider v3.16.0");
  });
});
