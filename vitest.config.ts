import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      // hookTimeout: starting the in-memory PGlite takes ~2 s, far more on a loaded machine.
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 60_000 } },
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
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], testTimeout: 900_000 } },
    ],
  },
});
