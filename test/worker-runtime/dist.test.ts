/**
 * The image's entrypoint: the compiled CLI from `npm run build -w @taskfleet/worker` (the same
 * step the Dockerfile runs; the global setup runs it) starts, prints help and runs a real worker
 * from dist/.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { deleteQueues, testApp, uniqueQueue, until } from "./helpers.js";

const execFileP = promisify(execFile);

describe("compiled CLI (dist)", () => {
  // The build itself (`npm run build -w @taskfleet/worker`, the Dockerfile's step) runs once in
  // the global setup, before any suite, so no suite rebuilds dist/ while another imports it.
  beforeAll(() => {
    expect(existsSync("worker-runtime/dist/cli/main.js")).toBe(true);
  });

  it("the Dockerfile's entrypoint is the compiled CLI under tini, run as a non-root user", () => {
    const df = readFileSync("worker-runtime/Dockerfile", "utf8");
    expect(df).toContain(
      'ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/worker-runtime/dist/cli/main.js"]',
    );
    expect(df).toContain("USER node");
    expect(df).toMatch(/FROM node:22-slim AS build[\s\S]*npm run build -w @taskfleet\/worker/);
  });

  it("node dist/cli/main.js worker --help", async () => {
    const { stdout } = await execFileP(process.execPath, [
      "worker-runtime/dist/cli/main.js",
      "worker",
      "--help",
    ]);
    expect(stdout).toContain("Usage: taskfleet worker -A <module> [options]");
  });

  describe("running a worker from dist", () => {
    const queue = uniqueQueue("dist");
    afterAll(async () => deleteQueues(queue));
    it("processes a task and drains on SIGTERM", async () => {
      const child = spawn(
        process.execPath,
        [
          "worker-runtime/dist/cli/main.js",
          "worker",
          "-A",
          "test/worker-runtime/fixtures/disttasks.mjs",
          "-Q",
          queue,
          "-c",
          "2",
        ],
        {
          env: {
            ...process.env,
            TASKFLEET_BROKER_URL: inject("amqpUrl"),
            TASKFLEET_RESULT_BACKEND: inject("redisUrl"),
            DISTTASKS_QUEUE: queue,
          },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let log = "";
      child.stdout.on("data", (d: Buffer) => (log += d.toString()));
      child.stderr.on("data", (d: Buffer) => (log += d.toString()));
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      const client = testApp(queue);
      try {
        await until(
          () => log.includes('"msg":"worker ready"') || child.exitCode !== null,
          30_000,
          "dist worker ready",
        );
        expect(child.exitCode).toBeNull();
        const r = await client.sendTask("dist.mul", [6, 7]);
        expect(await r.get({ timeoutMs: 10_000 })).toBe(42);
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
        await client.close();
      }
    });
  });
});
