/**
 * One region of the local target: RabbitMQ node(s) booted from the broker generator's files, a
 * Redis, the worker pools as `taskfleet worker` processes and the task API as `taskfleet api`,
 * all on free loopback ports in the run's state folder. Every process it starts is recorded in
 * the state file and stopped by `stop()`.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { newToken } from "../worker-runtime/src/api/auth.js";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { BROKER_ROLES, type BrokerRole, type BrokerSpec } from "../components/broker/brokerSpec.js";
import {
  renderBrokerFiles,
  brokerPlugins,
  type ClusterFormation,
} from "../components/broker/index.js";
import {
  installedRabbitmqVersion,
  RabbitMqNode,
  RedisServer,
  startLogged,
  tail,
  waitExit,
  waitForPort,
} from "./services/index.js";
import type { LocalPool } from "./stack.js";
import type { StateDir } from "./stateDir.js";

export const REPO_ROOT = join(import.meta.dirname, "..");
/** The `taskfleet` command the workers and APIs run; TASKFLEET_LOCAL_BIN picks another build. */
const TASKFLEET_BIN =
  process.env.TASKFLEET_LOCAL_BIN ?? join(REPO_ROOT, "worker-runtime", "bin", "taskfleet.mjs");

/** Ports a region uses, chosen before anything starts (the peer's federation link needs them). */
export interface RegionPorts {
  amqp: number[];
  management: number[];
  prometheus: number[];
  dist: number[];
  redis: number;
  api: number;
  /** The API's `/metrics` port (not the task port). */
  apiMetrics: number;
  workerHealth: number[];
}

export interface RegionPlan {
  name: string;
  dir: string;
  ports: RegionPorts;
  /** Passwords of this region's broker users. */
  passwords: Record<BrokerRole, string>;
  spec?: BrokerSpec;
  pools?: LocalPool[];
}

export function newPasswords(): Record<BrokerRole, string> {
  return Object.fromEntries(
    BROKER_ROLES.map((r) => [r, randomBytes(12).toString("hex")]),
  ) as Record<BrokerRole, string>;
}

export interface StartRegionOptions {
  plan: RegionPlan;
  spec: BrokerSpec;
  pools: readonly LocalPool[];
  /** The peer region's federation password (its `federation` user). */
  peer: { region: string; federationPassword: string };
  /** Redis this region's Redis replicates from (the result store's primary), or none for the primary. */
  redisPrimary?: { port: number };
  /** Result backend every worker writes to (the primary's Redis). */
  resultBackendForWorkers: () => string;
  /** Writable Redis for the API's task owners and idempotency keys (the primary's). */
  stateRedisForApi: () => string;
  /** Task module the workers run (`-A`). */
  tasksModule: string;
  /** `taskfleet api` routing flags. */
  apiArgs: readonly string[];
  state: StateDir;
  log: (line: string) => void;
}

export interface WorkerProcess {
  name: string;
  pool: LocalPool;
  healthPort: number;
  child: ChildProcess;
  logFile: string;
}

/** A running region. */
export class LocalRegion {
  readonly name: string;
  readonly nodes: RabbitMqNode[] = [];
  redis: RedisServer | null = null;
  readonly workers: WorkerProcess[] = [];
  api: { child: ChildProcess; port: number; logFile: string } | null = null;
  readonly plan: RegionPlan;
  readonly spec: BrokerSpec;
  /** The bearer token of this region's API client "local-demo" (may send any task). */
  readonly apiToken: string;
  private readonly tokensLine: string;
  private stopping = false;

  constructor(plan: RegionPlan, spec: BrokerSpec) {
    this.name = plan.name;
    this.plan = plan;
    this.spec = spec;
    const t = newToken("local-demo", ["*"]);
    this.apiToken = t.token;
    this.tokensLine = t.line;
  }

  url(role: BrokerRole): string {
    const u = encodeURIComponent(this.spec.users[role]);
    const p = encodeURIComponent(this.plan.passwords[role]);
    const vhost = encodeURIComponent(this.spec.vhost);
    return this.plan.ports.amqp
      .map((port) => `amqp://${u}:${p}@127.0.0.1:${port}/${vhost}`)
      .join(",");
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.plan.ports.api}`;
  }

  get apiMetricsUrl(): string {
    return `http://127.0.0.1:${this.plan.ports.apiMetrics}/metrics`;
  }

  get redisUrl(): string {
    return `redis://127.0.0.1:${this.plan.ports.redis}/0`;
  }

  managementUrls(): string[] {
    return this.plan.ports.management.map((p) => `http://127.0.0.1:${p}`);
  }

  /** Starts the broker node(s) and Redis (not yet the workers and API). */
  async startServices(o: StartRegionOptions): Promise<void> {
    const { plan, spec, state } = o;
    const clusterNames = plan.ports.amqp.map(
      (_, i) => `tf-${plan.name}-${i}-${randomBytes(3).toString("hex")}`,
    );
    const formation: ClusterFormation =
      plan.ports.amqp.length > 1
        ? { kind: "fixed", nodes: clusterNames.map((n) => `${n}@localhost`) }
        : { kind: "none" };
    const cookie = randomBytes(16).toString("hex").toUpperCase();
    const nodeStarts = plan.ports.amqp.map(async (amqpPort, i) => {
      const dir = join(plan.dir, `rabbit-${i}`);
      mkdirSync(dir, { recursive: true });
      const defsFile = join(dir, "definitions.json");
      const files = renderBrokerFiles(
        spec,
        {
          passwords: plan.passwords,
          upstreamPasswords: { [o.peer.region]: o.peer.federationPassword },
        },
        {
          formation,
          listeners: false,
          definitionsFile: defsFile,
          clusterName: `taskfleet-${plan.name}`,
          // The local nodes run the RabbitMQ this machine has (Debian's 3.10), not the cloud's.
          version: installedRabbitmqVersion(),
        },
      );
      // The generator's files, placed as they are: definitions.json beside the config; the node
      // adds only its loopback listener lines to rabbitmq.conf and writes the same plugin list.
      writeFileSync(defsFile, files["definitions.json"]);
      writeFileSync(join(dir, "generated.rabbitmq.conf"), files["rabbitmq.conf"]);
      writeFileSync(join(dir, "generated.enabled_plugins"), files.enabled_plugins);
      const node = new RabbitMqNode({
        dir,
        name: clusterNames[i]!,
        cookie,
        amqpPort,
        managementPort: plan.ports.management[i]!,
        prometheusPort: plan.ports.prometheus[i]!,
        distPort: plan.ports.dist[i]!,
        plugins: brokerPlugins(formation),
        extraConfig: files["rabbitmq.conf"],
        startTimeoutMs: 120_000,
        detached: true,
      });
      this.nodes[i] = node;
      await node.start();
      state.record(`rabbitmq ${node.nodeName}`, node.pid());
    });
    const redisDir = join(plan.dir, "redis");
    this.redis = new RedisServer({
      dir: redisDir,
      port: plan.ports.redis,
      ...(o.redisPrimary ? { replicaOf: { host: "127.0.0.1", port: o.redisPrimary.port } } : {}),
      detached: true,
    });
    const redisStart = this.redis
      .start()
      .then(() => state.record(`redis ${plan.name}`, this.redis?.pid));
    await Promise.all([...nodeStarts, redisStart]);
    if (plan.ports.amqp.length > 1) await this.awaitCluster(plan.ports.amqp.length);
  }

  private async awaitCluster(size: number): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const out = await this.nodes[0]!.ctl(["cluster_status", "--formatter", "json"]);
      const st = JSON.parse(out) as { running_nodes?: string[] };
      if ((st.running_nodes ?? []).length >= size) break;
      if (Date.now() > deadline) {
        throw new Error(
          `region ${this.name}: the ${size} RabbitMQ nodes did not form a cluster in 120 s: ${out}`,
        );
      }
      await sleep(500);
    }
    // A node that has just joined starts its virtual hosts asynchronously; a client that declares
    // a queue there meanwhile gets 541 INTERNAL_ERROR {vhost_supervisor_not_running}. On a loaded
    // machine a vhost can also fail to start and stay down (RabbitMQ does not retry it; the
    // operator's remedy is `rabbitmqctl restart_vhost`). Wait until every node says its virtual
    // hosts run (rabbitmq-diagnostics check_virtual_hosts), restarting one that stays down.
    const vhostDeadline = Date.now() + 90_000;
    for (const node of this.nodes) {
      let firstDown = 0;
      let lastRestart = 0;
      for (;;) {
        try {
          await node.ctl(["check_virtual_hosts"], "rabbitmq-diagnostics");
          break;
        } catch (err) {
          const now = Date.now();
          if (now > vhostDeadline) {
            throw new Error(
              `region ${this.name}: the virtual hosts of ${node.nodeName} did not start in 90 s after the cluster formed: ${(err as Error).message}`,
            );
          }
          firstDown ||= now;
          if (now - firstDown >= 5_000 && now - lastRestart >= 10_000) {
            lastRestart = now;
            await node.ctl(["restart_vhost", "-p", "/"]).catch(() => undefined);
          }
          await sleep(500);
        }
      }
    }
  }

  /** Starts the worker pools and the task API. */
  async startProcesses(o: StartRegionOptions): Promise<void> {
    const { plan, state } = o;
    const env = {
      ...process.env,
      TASKFLEET_REGION: plan.name,
      TASKFLEET_BROKER_URL: this.url("workers"),
      TASKFLEET_RESULT_BACKEND: o.resultBackendForWorkers(),
    };
    o.pools.forEach((lp, i) => {
      const p = lp.pool;
      const name = `${p.name}_worker@${plan.name}`;
      const healthPort = plan.ports.workerHealth[i]!;
      const logFile = join(plan.dir, `worker-${p.name}.log`);
      const args = [
        TASKFLEET_BIN,
        "worker",
        "-A",
        o.tasksModule,
        "-Q",
        lp.queues.join(","),
        "-c",
        String(p.concurrency),
        "-n",
        name,
        `--autoscale=${p.maxConcurrency},${p.minConcurrency}`,
        "--health-port",
        String(healthPort),
      ];
      const child = startLogged(process.execPath, args, {
        env,
        cwd: REPO_ROOT,
        logFile,
        detached: true,
      });
      state.record(`worker ${name}`, child.pid);
      this.watch(child, `worker ${name}`, logFile, o.log);
      this.workers.push({ name, pool: lp, healthPort, child, logFile });
    });
    const logFile = join(plan.dir, "api.log");
    // The API holds only the token's hash, in a file only this user reads.
    const tokensFile = join(plan.dir, "api-tokens");
    writeFileSync(tokensFile, `${this.tokensLine}\n`, { mode: 0o600 });
    const apiChild = startLogged(
      process.execPath,
      [
        TASKFLEET_BIN,
        "api",
        "--port",
        String(plan.ports.api),
        "--region",
        plan.name,
        "--broker",
        this.url("producers"),
        "--backend",
        this.redisUrl,
        "--state-redis",
        o.stateRedisForApi(),
        "--tokens-file",
        tokensFile,
        "--metrics-port",
        String(plan.ports.apiMetrics),
        // One demo client sends everything; the per-client caps are the API's defaults.
        "--rate-limit",
        "0",
        ...o.apiArgs,
      ],
      {
        env: { ...process.env, TASKFLEET_REGION: plan.name },
        cwd: REPO_ROOT,
        logFile,
        detached: true,
      },
    );
    state.record(`api ${plan.name}`, apiChild.pid);
    this.watch(apiChild, `task API of ${plan.name}`, logFile, o.log);
    this.api = { child: apiChild, port: plan.ports.api, logFile };
    await Promise.all([
      this.waitHttpOk(`${this.apiUrl}/readyz`, apiChild, logFile, `task API of ${plan.name}`),
      ...this.workers.map((w) =>
        this.waitHttpOk(
          `http://127.0.0.1:${w.healthPort}/readyz`,
          w.child,
          w.logFile,
          `worker ${w.name}`,
        ),
      ),
    ]);
  }

  private async waitHttpOk(
    url: string,
    child: ChildProcess,
    logFile: string,
    what: string,
  ): Promise<void> {
    const deadline = Date.now() + 60_000;
    const port = Number(new URL(url).port);
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${what} exited during start (code ${child.exitCode}):\n${tail(logFile)}`);
      }
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
        if (r.ok) return;
      } catch {
        // not up yet
      }
      await sleep(200);
    }
    await waitForPort(port, 1, what).catch(() => undefined);
    throw new Error(`${what} was not ready at ${url} within 60 s:\n${tail(logFile)}`);
  }

  /** Stops the API, then the workers (letting them finish), then Redis and RabbitMQ. Safe to call twice. */
  /** Says so when a process of the region ends while the region is meant to be up. */
  private watch(
    child: ChildProcess,
    what: string,
    logFile: string,
    log: (line: string) => void,
  ): void {
    child.once("exit", (code, signal) => {
      if (this.stopping) return;
      log(
        `${what} exited unexpectedly (${signal ?? `code ${code}`}); last lines of ${logFile}:\n${tail(logFile, 5)}`,
      );
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const api = this.api;
    this.api = null;
    if (api) await stopChild(api.child, 10_000);
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => stopChild(w.child, 30_000)));
    const redis = this.redis;
    this.redis = null;
    await Promise.allSettled([redis?.stop(), ...this.nodes.map((n) => n.stop())]);
  }
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  if (!(await waitExit(child, graceMs))) {
    child.kill("SIGKILL");
    await waitExit(child, 5000);
  }
}
