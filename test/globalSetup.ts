/**
 * Starts the services the suites share: one RabbitMQ node (all taskfleet plugins on) and one
 * Redis, on free loopback ports in a temporary folder. Suites that need their own topology
 * (clusters, federation, kill tests) start their own nodes with `local/services`. Everything
 * started here is stopped in the teardown, which Vitest runs also when tests fail.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { RabbitMqNode, RedisServer } from "../local/services/index.js";

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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
