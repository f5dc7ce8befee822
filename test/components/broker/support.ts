/** Boots real RabbitMQ nodes from the broker generator's rendered files, for the broker suites. */
import type { Channel } from "amqplib";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  installedRabbitmqVersion,
  RABBITMQ_SBIN,
  RabbitMqNode,
} from "../../../local/services/index.js";
import { OWN_NODE, postStartScript } from "../../../components/broker/brokerManifests.js";
import {
  postStartCommands,
  renderBrokerFiles,
  resolveBrokerSpec,
  type BrokerFiles,
  type BrokerSpec,
  type ClusterFormation,
} from "../../../components/broker/index.js";
import type { BrokerCredentials } from "../../../components/broker/definitions.js";

export const PASSWORDS = Object.freeze({
  workers: "worker-secret-1",
  producers: "producer-secret-1",
  federation: "federation-secret-1",
  monitoring: "monitoring-secret-1",
});

/** Small disk limit: test machines have little free disk compared with a broker host. */
export const TEST_DISK_FREE_LIMIT_GIB = 0.1;

export function testSpec(input: Record<string, unknown>, region = "us-east-1"): BrokerSpec {
  return resolveBrokerSpec(
    { diskFreeLimitGiB: TEST_DISK_FREE_LIMIT_GIB, ...input },
    "taskfleet:broker",
    region,
  );
}

/**
 * Renders the files for `spec` into `dir` (listeners left to the node, which picks free ports)
 * and returns a node that boots from them.
 */
export function nodeFromRenderedFiles(
  spec: BrokerSpec,
  dir: string,
  opts: {
    name?: string;
    cookie?: string;
    formation?: ClusterFormation;
    credentials?: BrokerCredentials;
    amqpPort?: number;
    distPort?: number;
  } = {},
): { node: RabbitMqNode; files: BrokerFiles } {
  mkdirSync(dir, { recursive: true });
  const definitionsFile = join(dir, "definitions.json");
  const files = renderBrokerFiles(spec, opts.credentials ?? { passwords: PASSWORDS }, {
    listeners: false,
    definitionsFile,
    version: installedRabbitmqVersion(),
    ...(opts.formation ? { formation: opts.formation } : {}),
  });
  writeFileSync(definitionsFile, files["definitions.json"]);
  writeFileSync(join(dir, "rendered-rabbitmq.conf"), files["rabbitmq.conf"]);
  const plugins = /^\[(.*)\]\.\n$/.exec(files.enabled_plugins)![1]!.split(",");
  const node = new RabbitMqNode({
    dir,
    extraConfig: files["rabbitmq.conf"],
    plugins,
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.cookie ? { cookie: opts.cookie } : {}),
    ...(opts.amqpPort ? { amqpPort: opts.amqpPort } : {}),
    ...(opts.distPort ? { distPort: opts.distPort } : {}),
  });
  return { node, files };
}

/** Resolves `{ code, message }` of the AMQP error `fn` fails with, or throws if it succeeds. */
export async function amqpError(
  fn: () => Promise<unknown>,
): Promise<{ code: number; message: string }> {
  try {
    await fn();
  } catch (err) {
    const e = err as { code?: number; message: string };
    return { code: e.code ?? -1, message: e.message };
  }
  throw new Error("expected an AMQP error");
}

/**
 * The cloud broker's `post-start` sidecar (the exact script of the StatefulSet, polling every
 * second) run as a process beside a local node: the pod's environment is the node's name,
 * cookie home and the RabbitMQ CLI on PATH.
 */
export class PostStartSidecar {
  private readonly child: ChildProcess;
  private out = "";
  private exited: Promise<void>;

  constructor(node: RabbitMqNode, spec: BrokerSpec) {
    const script = postStartScript(postStartCommands(spec, [OWN_NODE]), 1);
    this.child = spawn("/bin/sh", ["-c", script], {
      env: {
        ...process.env,
        PATH: `${RABBITMQ_SBIN}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: join(node.dir, "home"),
        RABBITMQ_NODENAME: node.nodeName,
        RABBITMQ_CONF_ENV_FILE: join(node.dir, "rabbitmq-env.conf"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.on("data", (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on("data", (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  /** How many times the commands have all succeeded so far. */
  runs(): number {
    return this.out.split("\n").filter((l) => l === "post-start: done").length;
  }

  /** Waits until the commands have succeeded `n` times in all. */
  async waitForRuns(n: number, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.runs() < n) {
      if (Date.now() > until || this.child.exitCode !== null) {
        throw new Error(`post-start sidecar: ${this.runs()} of ${n} runs; output:\n${this.out}`);
      }
      await sleep(100);
    }
  }

  output(): string {
    return this.out;
  }

  /** SIGTERM, as the kubelet sends; the script exits 0 on it. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }
}

/**
 * Consumes every shard queue until `expected` distinct bodies have arrived (no ack), then cancels
 * the consumers; returns which shard each body came from.
 */
export async function drainShards(
  ch: Channel,
  shards: readonly string[],
  expected: number,
): Promise<Map<string, string>> {
  const where = new Map<string, string>();
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const tags: string[] = [];
  for (const s of shards) {
    const { consumerTag } = await ch.consume(
      s,
      (m) => {
        if (!m) return;
        where.set(m.content.toString(), s);
        if (where.size === expected) done();
      },
      { noAck: true },
    );
    tags.push(consumerTag);
  }
  await all;
  for (const t of tags) await ch.cancel(t);
  return where;
}

/** How many of the drained bodies each shard held, in the order of `shards`. */
export function shardCounts(where: Map<string, string>, shards: readonly string[]): number[] {
  const held = [...where.values()];
  return shards.map((s) => held.filter((x) => x === s).length);
}
