import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      // hookTimeout: starting the in-memory PGlite takes ~2 s, far more on a loaded machine; tests that start
      // a harness or run `tenantctl` child processes took 10-25 s each at a load of 4 on 2 cores.
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 90_000 } },
      {
        // The console in Debian's chromium (playwright-core), against the service with the engine double.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          globalSetup: ["test/browser/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // The same setup as the integration project's (the cloud, and the real toolchain built meanwhile).
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 900_000,
          hookTimeout: 2_400_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
