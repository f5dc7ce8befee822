/**
 * The manifest-to-runtime contract (issue 11, item 5): every environment variable and flag the
 * cloud manifests give a runtime container is one the runtime reads and honours. The manifests are
 * rendered from every stack in stacks/ with the components' own generators (components/workers,
 * components/ingress), never copied here; a variable the runtime does not know fails the test.
 */
import { spawn } from "node:child_process";
import { describe, expect, inject, it } from "vitest";
import { readStackFile, stackNames } from "../../cli/plan.js";
import { parseRegionConfig } from "../../components/config/regionConfig.js";
import { apiObjects } from "../../components/ingress/apiManifests.js";
import { planRegion } from "../../components/regionPlan.js";
import { workerPoolObjects } from "../../components/workers/workerManifests.js";
import { freePort } from "../../local/services/index.js";
import { parseApiArgs } from "../../worker-runtime/src/api/command.js";
import { parseWorkerArgs, workerOptions } from "../../worker-runtime/src/cli/args.js";
import { createApp } from "../../worker-runtime/src/index.js";
import { createLogger } from "../../worker-runtime/src/util/log.js";
import { Worker } from "../../worker-runtime/src/worker/worker.js";
import { deleteQueues, testApp, uniqueQueue, until } from "./helpers.js";

interface Container {
  args: string[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
}

function container(deployment: unknown): Container {
  const spec = (deployment as { spec: { template: { spec: { containers: Container[] } } } }).spec;
  return spec.template.spec.containers[0]!;
}

/** Every stack's worker pools and task API as the components render them. */
function rendered(): {
  stack: string;
  consumerTimeoutSeconds: number;
  workers: { pool: string; taskTimeLimitSeconds: number; c: Container }[];
  api: Container;
}[] {
  return stackNames().map((stack) => {
    const { values } = readStackFile(stack);
    const config = parseRegionConfig(values);
    const plan = planRegion(config, values.broker);
    const common = { namespace: "taskfleet", image: "taskfleet:test", secretName: "conn" };
    return {
      stack,
      consumerTimeoutSeconds: plan.brokerSpec.consumerTimeoutSeconds,
      workers: plan.workerPools.map((pool) => ({
        pool: pool.name,
        taskTimeLimitSeconds: pool.taskTimeLimitSeconds,
        c: container(
          workerPoolObjects(pool, {
            ...common,
            instance: "w",
            app: "/app/tasks.js",
            healthPort: 8080,
            selectNodePool: false,
          }).deployment,
        ),
      })),
      api: container(
        apiObjects({
          ...common,
          instance: "i",
          region: config.region,
          replicas: 2,
          port: 8080,
          cpu: "500m",
          memoryMiB: 512,
          selectNodePool: false,
          routingArgs: plan.apiRoutingArgs,
          metricsPort: 9090,
          tokensSecretName: "tokens",
          exposure: "internal",
        }).deployment,
      ),
    };
  });
}

/** A stand-in value for a variable whose value comes from a Secret. */
const SAMPLE: Record<string, string> = {
  TASKFLEET_BROKER_URL: "amqp://u:p@broker-1:5672/%2F",
  TASKFLEET_RESULT_BACKEND: "rediss://:tok@redis-1:6379/0",
};

function envOf(c: Container): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const e of c.env) env[e.name] = e.value ?? SAMPLE[e.name] ?? `<${e.name}>`;
  return env;
}

function withEnv<T>(env: NodeJS.ProcessEnv, f: () => T): T {
  const saved = process.env;
  try {
    process.env = Object.fromEntries(
      Object.entries(saved).filter(
        ([k]) => !k.startsWith("TASKFLEET_") && !k.startsWith("CELERY_"),
      ),
    );
    Object.assign(process.env, env);
    return f();
  } finally {
    process.env = saved;
  }
}

/** What the runtime does with each variable, checked for the rendered value. */
const WORKER_READS: Record<string, (value: string, c: Container) => void> = {
  TASKFLEET_BROKER_URL: (v, c) => expect(withEnv(envOf(c), () => createApp().brokerUrl)).toBe(v),
  TASKFLEET_RESULT_BACKEND: (v, c) =>
    expect(withEnv(envOf(c), () => createApp().resultBackendUrl)).toBe(v),
  TASKFLEET_TASK_TIME_LIMIT: (v, c) =>
    expect(parseWorkerArgs(c.args.slice(1), envOf(c)).timeLimitSeconds).toBe(Number(v)),
};
const API_READS: Record<string, (value: string, c: Container) => void> = {
  TASKFLEET_BROKER_URL: (v, c) => expect(parseApiArgs(c.args.slice(1), envOf(c)).brokerUrl).toBe(v),
  TASKFLEET_RESULT_BACKEND: (v, c) =>
    expect(parseApiArgs(c.args.slice(1), envOf(c)).backendUrl).toBe(v),
  TASKFLEET_REGION: (v, c) => expect(parseApiArgs(c.args.slice(1), envOf(c)).region).toBe(v),
};

describe("manifest-to-runtime contract", () => {
  const stacks = rendered();

  it("renders every stack (the test reads real manifests)", () => {
    expect(stacks.map((s) => s.stack)).toEqual(stackNames());
    expect(stacks.length).toBeGreaterThan(0);
    for (const s of stacks) expect(s.workers.length).toBeGreaterThan(0);
  });

  it("every variable a worker or API container gets is read by the runtime, with the rendered value", () => {
    for (const s of stacks) {
      for (const w of s.workers) {
        const env = envOf(w.c);
        for (const name of Object.keys(env)) {
          const check = WORKER_READS[name];
          if (!check)
            throw new Error(
              `${s.stack}/${w.pool}: the manifest sets ${name}, which taskfleet worker does not read`,
            );
          check(env[name]!, w.c);
        }
      }
      const env = envOf(s.api);
      for (const name of Object.keys(env)) {
        const check = API_READS[name];
        if (!check)
          throw new Error(
            `${s.stack}/api: the manifest sets ${name}, which taskfleet api does not read`,
          );
        check(env[name]!, s.api);
      }
    }
  });

  it("each pool's flags and time limit make a worker that fits the stack's broker consumer_timeout", () => {
    for (const s of stacks) {
      for (const w of s.workers) {
        const args = parseWorkerArgs(w.c.args.slice(1), envOf(w.c));
        expect(args.timeLimitSeconds, `${s.stack}/${w.pool}`).toBe(w.taskTimeLimitSeconds);
        // the worker must assume the consumer_timeout the stack's broker has
        expect(args.consumerTimeoutSeconds, `${s.stack}/${w.pool} consumer_timeout`).toBe(
          s.consumerTimeoutSeconds,
        );
        const app = createApp({ brokerUrl: SAMPLE.TASKFLEET_BROKER_URL, resultBackend: null });
        expect(
          () =>
            new Worker(app, { ...workerOptions(args, "declare"), logger: createLogger("silent") }),
          `${s.stack}/${w.pool}`,
        ).not.toThrow();
      }
    }
  });

  it("a worker started with a pool's flags and variables honours TASKFLEET_TASK_TIME_LIMIT", async () => {
    const w = stacks[0]!.workers[0]!;
    const queue = uniqueQueue("contract");
    const healthPort = await freePort();
    // the pool's own flags, with the test's module, queue and port
    const args = [...w.c.args];
    const set = (flag: string, value: string): void => {
      const i = args.indexOf(flag);
      if (i >= 0) args[i + 1] = value;
      else args.push(flag, value);
    };
    set("-A", "test/worker-runtime/fixtures/tstasks.ts");
    set("-Q", queue);
    set("--health-port", String(healthPort));
    set("--health-host", "127.0.0.1");
    const env = {
      ...process.env,
      ...envOf(w.c),
      TASKFLEET_BROKER_URL: inject("amqpUrl"),
      TASKFLEET_RESULT_BACKEND: inject("redisUrl"),
      TASKFLEET_TASK_TIME_LIMIT: "1",
      TSTASKS_QUEUE: queue,
    };
    for (const e of w.c.env) expect(Object.keys(env)).toContain(e.name);
    const child = spawn(process.execPath, ["worker-runtime/bin/taskfleet.mjs", ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.on("data", (d: Buffer) => (log += d.toString()));
    child.stderr.on("data", (d: Buffer) => (log += d.toString()));
    const client = testApp(queue);
    try {
      await until(
        async () => {
          if (child.exitCode !== null) throw new Error(`worker exited:\n${log}`);
          return fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
            (r) => r.status === 200,
            () => false,
          );
        },
        60_000,
        "worker ready",
      );
      const r = await client.sendTask("t.sleep", [1, 3000]);
      const t0 = Date.now();
      await expect(r.get({ timeoutMs: 10_000 })).rejects.toMatchObject({
        name: "TimeLimitExceeded",
      });
      expect(Date.now() - t0).toBeLessThan(2500);
    } finally {
      child.kill("SIGTERM");
      await new Promise((res) => (child.exitCode !== null ? res(null) : child.once("exit", res)));
      await client.close();
      await deleteQueues(queue);
    }
  });
});
