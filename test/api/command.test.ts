/**
 * `taskfleet api` as users run it: flags with exact error messages, and the real command through
 * the package's bin against the shared RabbitMQ and Redis — an allow-list from a task module
 * (`-A`), readiness, and a graceful stop on SIGTERM.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { parseApiArgs, ApiUsageError } from "../../worker-runtime/src/api/command.js";
import { tempDir } from "../support/tmp.js";

const REPO = join(import.meta.dirname, "..", "..");
const BIN = join(REPO, "worker-runtime", "bin", "taskfleet.mjs");
const tmp = tempDir("taskfleet-api-cmd-");
afterAll(() => tmp.cleanup());

const env = { TASKFLEET_BROKER_URL: "amqp://x", TASKFLEET_RESULT_BACKEND: "redis://y" };

describe("taskfleet api flags", () => {
  it("defaults to the seed's queues and priorities and reads URLs from the environment", () => {
    const a = parseApiArgs([], env);
    expect(a).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      region: "local",
      brokerUrl: "amqp://x",
      backendUrl: "redis://y",
    });
    expect(a.routing).toEqual({
      queues: {
        high_priority: { exchange: "high_priority", routingKeyPrefix: "high" },
        default: { exchange: "default", routingKeyPrefix: "default" },
      },
      priorities: { high: "high_priority", default: "default" },
      defaultQueue: "default",
    });
  });

  it("refuses bad flags with exact messages", () => {
    const cases: [string[], NodeJS.ProcessEnv, string][] = [
      [
        ["--queue", "a=b"],
        env,
        '--queue: "a=b" is not a queue route; write <queue>=<exchange>:<routing key prefix>, e.g. high_priority=high_priority:high',
      ],
      [
        ["--priority", "urgent=nowhere"],
        env,
        '--priority: "urgent=nowhere" names no queue; queues are high_priority, default',
      ],
      [
        ["--shard-queue", "x"],
        env,
        '--shard-queue: "x" is not a queue; queues are high_priority, default',
      ],
      [
        ["--port", "70000"],
        env,
        '--port: "70000" is not allowed; use a whole number from 0 to 65535',
      ],
      [[], {}, "--broker: missing; pass --broker amqp://... or set TASKFLEET_BROKER_URL"],
      [
        ["--broker", "amqp://x"],
        {},
        "--backend: missing; pass --backend redis://... or set TASKFLEET_RESULT_BACKEND",
      ],
      [["--verbose"], env, "--verbose: unknown flag; see taskfleet api --help"],
    ];
    for (const [argv, e, msg] of cases) {
      expect(() => parseApiArgs(argv, e)).toThrow(ApiUsageError);
      expect(() => parseApiArgs(argv, e)).toThrow(msg);
    }
  });
});

describe("taskfleet api command", () => {
  it("serves with an allow-list from -A, is ready, and stops gracefully on SIGTERM", async () => {
    const ready = join(tmp.path, "ready");
    const child = spawn(
      process.execPath,
      [
        BIN,
        "api",
        "--port",
        "0",
        "--ready-file",
        ready,
        "--region",
        "test-r",
        "-A",
        join(REPO, "local", "demoTasks.ts"),
      ],
      {
        cwd: REPO,
        env: {
          ...process.env,
          TASKFLEET_BROKER_URL: inject("amqpUrl"),
          TASKFLEET_RESULT_BACKEND: inject("redisUrl"),
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      for (let i = 0; i < 300 && !existsSync(ready); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(ready), stderr).toBe(true);
      const base = `http://127.0.0.1:${readFileSync(ready, "utf8").trim()}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const res = await fetch(`${base}/v1/tasks`, {
        method: "POST",
        body: JSON.stringify({ name: "demo.nope" }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: "bad_request",
        field: "name",
        message:
          'name: "demo.nope" is not a task this API accepts; known tasks: demo.broken, demo.checkout, demo.flaky, demo.thumbnail',
      });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('"msg":"stopped"');
  });
});
