import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { expandNodeName, parseWorkerArgs } from "../../worker-runtime/src/cli/args.js";
import { main } from "../../worker-runtime/src/cli/main.js";
import { createApp } from "../../worker-runtime/src/app.js";

const execFileP = promisify(execFile);

describe("worker flags", () => {
  it("parses Celery's flags (seed S22, S24)", () => {
    const a = parseWorkerArgs(
      [
        "-A",
        "./tasks.js",
        "-Q",
        "high_priority,default",
        "-c",
        "10",
        "-n",
        "high_priority_worker@%h",
        "--autoscale=50,10",
        "--prefetch-multiplier=1",
        "-E",
        "--loglevel=info",
        "--shutdown-timeout",
        "20",
        "--health-port",
        "8080",
      ],
      {},
    );
    expect(a).toMatchObject({
      app: "./tasks.js",
      queues: ["high_priority", "default"],
      concurrency: 10,
      autoscale: { max: 50, min: 10 },
      prefetchMultiplier: 1,
      events: true,
      loglevel: "info",
      shutdownTimeoutSeconds: 20,
      healthPort: 8080,
      healthHost: "127.0.0.1",
      declare: true,
    });
    expect(parseWorkerArgs(["-Aapp.ts", "-c4", "-lWARNING"], {})).toMatchObject({
      app: "app.ts",
      concurrency: 4,
      loglevel: "warn",
    });
  });

  it("reads time limits and the broker's consumer_timeout from flags, else the environment", () => {
    expect(parseWorkerArgs(["-A", "t.js"], {})).toMatchObject({
      timeLimitSeconds: undefined,
      softTimeLimitSeconds: undefined,
      consumerTimeoutSeconds: 1800,
    });
    const env = { TASKFLEET_TASK_TIME_LIMIT: "300", TASKFLEET_CONSUMER_TIMEOUT: "3600" };
    expect(parseWorkerArgs(["-A", "t.js"], env)).toMatchObject({
      timeLimitSeconds: 300,
      consumerTimeoutSeconds: 3600,
    });
    expect(
      parseWorkerArgs(
        ["-A", "t.js", "--time-limit=90", "--soft-time-limit", "60", "--consumer-timeout=900"],
        env,
      ),
    ).toMatchObject({
      timeLimitSeconds: 90,
      softTimeLimitSeconds: 60,
      consumerTimeoutSeconds: 900,
    });
    expect(() => parseWorkerArgs(["-A", "t.js"], { TASKFLEET_TASK_TIME_LIMIT: "soon" })).toThrow(
      'TASKFLEET_TASK_TIME_LIMIT: "soon" is not allowed; use seconds > 0 (e.g. 300)',
    );
    expect(() => parseWorkerArgs(["-A", "t.js", "--time-limit", "0"], {})).toThrow(
      '--time-limit: "0" is not allowed; use seconds > 0 (e.g. 300)',
    );
  });

  it("expands %h, %n and %d like Celery", () => {
    expect(expandNodeName("w@%h", "node1.example.com")).toBe("w@node1.example.com");
    expect(expandNodeName("%n-%d@x", "node1.example.com")).toBe("node1-example.com@x");
    expect(expandNodeName("w@%n%%", "solo")).toBe("w@solo%");
  });

  it("rejects bad flags with the flag, the value and what is allowed", () => {
    expect(() => parseWorkerArgs(["-A", "t.js", "-c", "0"], {})).toThrow(
      '-c: "0" is not allowed; use a whole number ≥ 1',
    );
    expect(() => parseWorkerArgs(["-A", "t.js", "--autoscale=10,50"], {})).toThrow(
      '--autoscale: "10,50" is not allowed; max must be ≥ 1 and min ≤ max (e.g. 50,10)',
    );
    expect(() => parseWorkerArgs(["-A", "t.js", "--autoscale=lots"], {})).toThrow(
      '--autoscale: "lots" is not max,min; use e.g. --autoscale=50,10',
    );
    expect(() => parseWorkerArgs(["-A", "t.js", "--loglevel=loud"], {})).toThrow(
      '--loglevel: "loud" is not a log level; use debug, info, warning, error or silent',
    );
    expect(() => parseWorkerArgs(["-A", "t.js", "--frobnicate"], {})).toThrow(
      'unknown option "--frobnicate"; run "taskfleet worker --help" for the options',
    );
    expect(() => parseWorkerArgs(["-c", "2"], {})).toThrow(
      "-A/--app is required: the task module, e.g. -A ./tasks.js",
    );
    expect(() => parseWorkerArgs(["-A", "t.js", "--prefetch-multiplier", "-1"], {})).toThrow(
      '--prefetch-multiplier: "-1" is not allowed; use a whole number ≥ 0',
    );
  });

  it("takes broker and backend from the app's options, else TASKFLEET_*, else CELERY_*, else localhost", () => {
    const saved = { ...process.env };
    try {
      delete process.env.TASKFLEET_BROKER_URL;
      delete process.env.TASKFLEET_RESULT_BACKEND;
      process.env.CELERY_BROKER_URL = "amqp://c:c@celery-host:5672/%2F";
      process.env.CELERY_RESULT_BACKEND = "redis://celery-redis:6379/1";
      expect(createApp().brokerUrl).toBe("amqp://c:c@celery-host:5672/%2F");
      expect(createApp().resultBackendUrl).toBe("redis://celery-redis:6379/1");
      process.env.TASKFLEET_BROKER_URL = "amqp://t:t@tf-host:5672/%2F";
      expect(createApp().brokerUrl).toBe("amqp://t:t@tf-host:5672/%2F");
      expect(createApp({ brokerUrl: "amqp://o:o@opt:5672/%2F" }).brokerUrl).toBe(
        "amqp://o:o@opt:5672/%2F",
      );
      delete process.env.TASKFLEET_BROKER_URL;
      delete process.env.CELERY_BROKER_URL;
      expect(createApp().brokerUrl).toBe("amqp://guest:guest@localhost:5672//");
    } finally {
      process.env = saved;
    }
  });

  it("main() returns 2 with a clear message for usage errors and a missing module", async () => {
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => {
      writes.push(s);
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await main(["worker", "-A", "./nope/tasks.js"])).toBe(2);
      expect(await main(["launch"])).toBe(2);
    } finally {
      process.stderr.write = orig;
    }
    expect(writes[0]).toBe(
      `taskfleet worker: -A: "./nope/tasks.js" not found (looked for ${process.cwd()}/nope/tasks.js)\n`,
    );
    expect(writes[1]).toBe('unknown command "launch"; use worker or api (taskfleet --help)\n');
  });

  it("dispatches `api` to worker-runtime/src/api/command.ts run(argv)", async () => {
    const { stdout } = await execFileP(process.execPath, [
      "worker-runtime/bin/taskfleet.mjs",
      "api",
      "--help",
    ]);
    expect(stdout).toContain("taskfleet api");
  });

  it("runs through the bin: taskfleet worker --help", async () => {
    const { stdout } = await execFileP(process.execPath, [
      "worker-runtime/bin/taskfleet.mjs",
      "worker",
      "--help",
    ]);
    expect(stdout).toContain("Usage: taskfleet worker -A <module> [options]");
    expect(stdout).toContain("--autoscale=<max,min>");
  });
});
