/**
 * Starts the services the suites share: one RabbitMQ node (all taskfleet plugins on) and one
 * Redis, on free loopback ports in a temporary folder. Suites that need their own topology
 * (clusters, federation, kill tests) start their own nodes with `local/services`. Everything
 * started here is stopped in the teardown, which Vitest runs also when tests fail.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { RabbitMqNode, RedisServer } from "../local/services/index.js";

const execFileP = promisify(execFile);

declare module "vitest" {
  export interface ProvidedContext {
    amqpUrl: string;
    rabbitManagementUrl: string;
    rabbitNodeName: string;
    rabbitDir: string;
    rabbitCookie: string;
    redisUrl: string;
  }
}

/**
 * Compiles the runtime once, with the step the Dockerfile runs, before any suite: the dist tests
 * run its output, and the local target's user task modules import it.
 */
async function buildRuntime(): Promise<void> {
  const repo = join(import.meta.dirname, "..");
  try {
    await execFileP("npm", ["run", "build", "-w", "@taskfleet/worker"], {
      cwd: repo,
      timeout: 180_000,
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` },
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `npm run build -w @taskfleet/worker failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`,
    );
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await buildRuntime();
  const root = mkdtempSync(join(tmpdir(), "taskfleet-test-"));
  const rabbit = new RabbitMqNode({ dir: join(root, "rabbit") });
  const redis = new RedisServer({ dir: join(root, "redis") });
  try {
    await Promise.all([rabbit.start(), redis.start()]);
  } catch (err) {
    await Promise.allSettled([rabbit.kill(), redis.kill()]);
    throw err;
  }
  const ctx = {
    amqpUrl: rabbit.url(),
    rabbitManagementUrl: rabbit.managementUrl(),
    rabbitNodeName: rabbit.nodeName,
    rabbitDir: rabbit.dir,
    rabbitCookie: rabbit.cookie,
    redisUrl: redis.url(),
  };
  for (const [k, v] of Object.entries(ctx)) project.provide(k as keyof typeof ctx, v);
  process.env.TASKFLEET_TEST_AMQP_URL = ctx.amqpUrl;
  process.env.TASKFLEET_TEST_REDIS_URL = ctx.redisUrl;
  return async () => {
    await Promise.allSettled([rabbit.stop(), redis.stop()]);
    if (!process.env.TASKFLEET_KEEP_TEST_DIRS) rmSync(root, { recursive: true, force: true });
  };
}
