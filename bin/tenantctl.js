#!/usr/bin/env node
/**
 * tenantctl without a build step. The TypeScript sources are bundled by esbuild (tsx's own transformer)
 * into `.cache/tenantctl/<key>/`, where <key> is a hash of every source file's path, size and
 * modification time: the first call after a change builds it (~0.3 s), every later call is plain node
 * loading plain JS. tsx's loader, which resolves and transforms each module at every start, cost 0.5 s
 * and more of every call on a busy 2-core machine (bench/cli.ts).
 *
 * `serve` and anything that goes wrong with the cache run the sources through tsx instead, in this
 * process: the service's modules find files next to their own (the engine host's child, the Pulumi
 * program), which a bundle elsewhere would not.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cacheDir = join(root, ".cache", "tenantctl");

async function fromSources() {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(join(root, "src", "cli.ts")).href);
}

/** What the bundle is built from: every file under src/, and the compiler settings. */
function sourcesKey() {
  const hash = createHash("sha256");
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        hash.update(`${relative(root, p)}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  walk(join(root, "src"));
  for (const f of ["tsconfig.json", "package.json"]) {
    const s = statSync(join(root, f));
    hash.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return hash.digest("hex").slice(0, 16);
}

async function bundled() {
  const key = sourcesKey();
  const entry = join(cacheDir, key, "cli.mjs");
  if (existsSync(entry)) return entry;
  // esbuild as tsx has it (a dependency of tsx, so always installed with it).
  const esbuild = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"))("esbuild");
  // Built aside, then renamed into place: a concurrent call sees a whole bundle or none.
  const building = join(cacheDir, `${key}.${process.pid}`);
  await esbuild.build({
    entryPoints: { cli: join(root, "src", "cli.ts") }, outdir: building, outExtension: { ".js": ".mjs" },
    bundle: true, splitting: true, format: "esm", platform: "node", target: "node20", packages: "external",
    sourcemap: "inline", logLevel: "silent",
  });
  try {
    renameSync(building, join(cacheDir, key));
  } catch {
    rmSync(building, { recursive: true, force: true }); // another call put the same bundle in place first
  }
  // Bundles of earlier sources are of no use any more.
  for (const old of readdirSync(cacheDir)) if (old !== key && !old.includes(".")) rmSync(join(cacheDir, old), { recursive: true, force: true });
  return entry;
}

if (process.argv[2] === "serve") await fromSources();
else {
  let entry;
  try {
    entry = await bundled();
  } catch {
    entry = undefined;
  }
  if (entry) {
    process.setSourceMapsEnabled(true);
    await import(pathToFileURL(entry).href);
  } else await fromSources();
}
