import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Integration suites start real RabbitMQ, Redis and Celery processes; the global setup starts one
// shared RabbitMQ node and one Redis for the suites that do not need their own (clusters,
// federation and kill tests start theirs). Two workers: these machines have two cores.
export default defineConfig({
  resolve: {
    // In this repository the runtime is used from source (tsx and tsconfig paths do the same).
    alias: {
      "@taskfleet/worker": fileURLToPath(new URL("./worker-runtime/src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["test/**/*.test.ts", "worker-runtime/test/**/*.test.ts", "policy/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts", "test/support/planCacheSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    maxWorkers: 2,
    reporters: ["default", "./test/support/summaryReporter.ts"],
  },
});
