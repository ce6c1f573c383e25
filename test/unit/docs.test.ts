import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configReferenceMarkdown, EnvSchema } from "../../src/config.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("the README's configuration reference", () => {
  it("is exactly what the config schema generates", () => {
    const block = readme.match(/<!-- config-reference:[^\n]*-->\n([\s\S]*?)\n<!-- \/config-reference -->/)?.[1];
    expect(block).toBe(configReferenceMarkdown());
  });

  it("documents every variable the service reads, each with a meaning", () => {
    for (const name of Object.keys(EnvSchema.shape)) expect(readme).toContain(`| \`${name}\` |`);
    for (const row of configReferenceMarkdown().split("\n").slice(2)) expect(row).toMatch(/^\| .+ \| .+ \| .+ \|$/);
  });
});
