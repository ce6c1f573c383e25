import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { foldEvent } from "../../../src/domain/subscription.js";
import { tenantSpecOf } from "../../../src/domain/tenant-spec.js";
import { renderTenant } from "../../../src/program/render.js";
import { event } from "../../support/events.js";
import { SETTINGS } from "../../support/settings.js";

/**
 * The provider this project builds (tools/openstack-provider) must answer to exactly what the npm SDK the
 * program uses sends. Its generated schema (cmd/pulumi-resource-openstack/schema.json, embedded in the
 * binary) is read beside @pulumi/openstack 3.15.2's own sources: each resource module's `__pulumiType`, its
 * `Args` interface in the .d.ts (name, type, optional or not) and the JS constructor's "Missing required
 * property" checks; getRole's `GetRoleArgs` and its `invoke` token. Never our own schemas.
 */
const SCHEMA = z.object({
  resources: z.record(z.string(), z.object({ inputProperties: z.record(z.string(), z.record(z.string(), z.unknown())), requiredInputs: z.array(z.string()).default([]) })),
  functions: z.record(z.string(), z.object({ inputs: z.object({ properties: z.record(z.string(), z.record(z.string(), z.unknown())), required: z.array(z.string()).default([]) }) })),
}).parse(JSON.parse(readFileSync("tools/openstack-provider/cmd/pulumi-resource-openstack/schema.json", "utf8")));
const sdkDir = dirname(createRequire(import.meta.url).resolve("@pulumi/openstack/package.json"));
const sdkVersion = (JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")) as { version: string }).version;

/** What an SDK module declares: its token, each input's name, TypeScript type and whether it is required. */
function sdkModule(file: string, argsInterface: string) {
  const js = readFileSync(join(sdkDir, `${file}.js`), "utf8");
  const dts = readFileSync(join(sdkDir, `${file}.d.ts`), "utf8");
  const token = js.match(/__pulumiType = '([^']+)'/)?.[1] ?? js.match(/invoke\("([^"]+)"/)?.[1];
  // Multi-line types (`pulumi.Input<{\n [key: string]: any;\n }>`) folded onto their property's line.
  const body = (dts.slice(dts.indexOf(`export interface ${argsInterface} {`)).split("\n}")[0] as string).replace(/\{\n\s+\[key: string\]: (\w+);\n\s+\}/g, "{[key: string]: $1}");
  const inputs = [...body.matchAll(/^ {4}(\w+)(\??): (.+);$/gm)].map((m) => ({ name: m[1] as string, optional: m[2] === "?", type: (m[3] as string).replace(/^pulumi\.Input<(.*)>$/, "$1") }));
  const requiredByJs = [...js.matchAll(/Missing required property '(\w+)'/g)].map((m) => m[1] as string);
  return { token, inputs, requiredByJs };
}

/** The schema's type of a property, in the SDK's TypeScript spelling. */
function tsTypeOf(p: Record<string, unknown>): string {
  switch (p.type) {
    case "string": return "string";
    case "integer": case "number": return "number";
    case "boolean": return "boolean";
    case "array": return `${tsTypeOf(p.items as Record<string, unknown>)}[]`;
    case "object": return "object";
    default: return typeof p.$ref === "string" ? "ref" : "unknown";
  }
}
/** The SDK's type of an input, normalised the same way (`pulumi.Input<string>[]` -> `string[]`, inputs.* -> ref). */
function normalised(ts: string): string {
  const t = ts.replace(/pulumi\.Input<([^<>]+)>/g, "$1").replace(/pulumi\.Input<([^<>]+)>/g, "$1");
  if (t.endsWith("[]")) return `${normalised(t.slice(0, -2))}[]`;
  if (/^\{\s*\[key: string\]/.test(t)) return "object";
  if (/^inputs\./.test(t)) return "ref";
  return t;
}

describe(`the provider built here answers to @pulumi/openstack ${sdkVersion}`, () => {
  const spec = tenantSpecOf(foldEvent(null, event("schema", "subscription.created")).state as never, SETTINGS);

  it("every resource type the tenant program declares is in the schema, and nothing else is", async () => {
    const declared = [...new Set((await renderTenant(spec)).map((r) => r.type))].sort();
    expect(declared).toHaveLength(6);
    expect(Object.keys(SCHEMA.resources).sort()).toEqual(declared);
  });

  const modules = [
    ["identity/project", "ProjectArgs"], ["identity/user", "UserArgs"], ["identity/roleAssignment", "RoleAssignmentArgs"],
    ["compute/quotaSetV2", "QuotaSetV2Args"], ["blockstorage/quoteSetV3", "QuoteSetV3Args"], ["networking/quotaV2", "QuotaV2Args"],
  ] as const;
  for (const [file, args] of modules) {
    it(`${file}: every input the SDK sends exists with the same name, type and required set`, () => {
      const sdk = sdkModule(file, args);
      const resource = SCHEMA.resources[sdk.token as string];
      expect(resource, `${sdk.token} in schema.json`).toBeDefined();
      expect(sdk.inputs.length).toBeGreaterThan(0);
      for (const input of sdk.inputs) {
        const p = resource?.inputProperties[input.name];
        expect(p, `${file}.${input.name}`).toBeDefined();
        expect(tsTypeOf(p as Record<string, unknown>), `${file}.${input.name}`).toBe(normalised(input.type));
      }
      expect(Object.keys(resource?.inputProperties ?? {}).sort()).toEqual(sdk.inputs.map((i) => i.name).sort());
      const required = sdk.inputs.filter((i) => !i.optional).map((i) => i.name).sort();
      expect([...(resource?.requiredInputs ?? [])].sort()).toEqual(required);
      expect(sdk.requiredByJs.sort()).toEqual(required);
    });
  }

  it("identity/getRole: the invoke token and its inputs", () => {
    const sdk = sdkModule("identity/getRole", "GetRoleArgs");
    expect(sdk.token).toBe("openstack:identity/getRole:getRole");
    const fn = SCHEMA.functions[sdk.token as string];
    expect(fn).toBeDefined();
    expect(Object.keys(fn?.inputs.properties ?? {}).sort()).toEqual(sdk.inputs.map((i) => i.name).sort());
    expect([...(fn?.inputs.required ?? [])].sort()).toEqual(sdk.inputs.filter((i) => !i.optional).map((i) => i.name).sort());
    for (const input of sdk.inputs) expect(tsTypeOf(fn?.inputs.properties[input.name] as Record<string, unknown>)).toBe(normalised(input.type));
  });
});
