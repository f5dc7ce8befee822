/**
 * The local target as a value: two regions started from a stack's description, federated, with
 * their endpoints; `stop()` stops everything it started. `npm run local` (main.ts) drives it, and
 * so do the tests.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePorts } from "./services/index.js";
import { StateDir, STATE_ENV } from "./stateDir.js";
import {
  apiRoutingArgs,
  localBrokerSpec,
  localPools,
  localRegionNames,
  type LocalPool,
  type StackDescription,
} from "./stack.js";
import { LocalRegion, newPasswords, type RegionPlan, type StartRegionOptions } from "./region.js";
import { brokerObjects } from "../components/broker/brokerSpec.js";
import { LocalMonitoring, type LocalMonitoringOptions } from "./monitoring.js";

export interface LocalTargetOptions {
  stack: StackDescription;
  stateDir: string;
  brokerNodes: number;
  tasksModule: string;
  /** Pools to run in a region. @default every pool of the stack */
  poolsFor?: (region: string, pools: LocalPool[]) => LocalPool[];
  /** Start Prometheus, the exporters and Alertmanager (local/monitoring.ts). @default - none */
  monitoring?: LocalMonitoringOptions;
  log?: (line: string) => void;
}

/** Waits until every federated queue's link runs in every region. */
export async function awaitFederation(
  regions: readonly LocalRegion[],
  timeoutMs = 90_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let running = 0;
    let expected = 0;
    const notes: string[] = [];
    for (const r of regions) {
      const objects = brokerObjects(r.spec);
      const federatedClasses = new Set(r.spec.federation.flatMap((l) => l.queues));
      const want = Object.entries(objects.consumeQueues)
        .filter(([cls]) => federatedClasses.has(cls))
        .reduce((n, [, qs]) => n + qs.length, 0);
      expected += want;
      // Each node reports the links of the queues it leads, so ask every node of the cluster.
      const running_ = new Set<string>();
      for (const node of r.nodes) {
        try {
          const out = await node.ctl(["federation_status", "--formatter", "json"]);
          const links = JSON.parse(out) as { status?: string; queue?: string; upstream?: string }[];
          for (const l of links) {
            if (l.status === "running") running_.add(`${l.queue ?? "?"} <- ${l.upstream ?? "?"}`);
          }
        } catch (err) {
          notes.push(`${node.nodeName}: ${(err as Error).message.split("\n")[0]}`);
        }
      }
      const ok = running_.size;
      running += Math.min(ok, want);
      if (ok < want) notes.push(`${r.name}: ${ok} of ${want} links running`);
    }
    if (running >= expected) return running;
    if (Date.now() > deadline) {
      throw new Error(
        `federation links did not come up within ${timeoutMs / 1000} s (${notes.join("; ")})`,
      );
    }
    await sleep(500);
  }
}

export class LocalTarget {
  readonly regions: LocalRegion[];
  readonly state: StateDir;
  /** Prometheus per region and the Alertmanager, when started with `monitoring`. */
  monitoring: LocalMonitoring | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(regions: LocalRegion[], state: StateDir) {
    this.regions = regions;
    this.state = state;
  }

  /** The region whose Redis is the result store's primary (the others replicate it). */
  get primary(): LocalRegion {
    return this.regions[0]!;
  }

  static async start(o: LocalTargetOptions): Promise<LocalTarget> {
    const say = o.log ?? ((): void => undefined);
    const state = new StateDir(o.stateDir);
    state.claim(o.stack.name);
    process.env[STATE_ENV] = o.stateDir;
    const names = localRegionNames(o.stack.config);
    const n = o.brokerNodes;
    const poolCount = o.stack.config.workers.pools.length;
    const perRegion = 4 * n + 3 + poolCount;
    const ports = await freePorts(perRegion * 2);
    const plans: RegionPlan[] = names.map((name, k) => {
      const p = ports.slice(k * perRegion, (k + 1) * perRegion);
      return {
        name,
        dir: join(o.stateDir, name),
        passwords: newPasswords(),
        ports: {
          amqp: p.slice(0, n),
          management: p.slice(n, 2 * n),
          prometheus: p.slice(2 * n, 3 * n),
          dist: p.slice(3 * n, 4 * n),
          redis: p[4 * n]!,
          api: p[4 * n + 1]!,
          apiMetrics: p[4 * n + 2]!,
          workerHealth: p.slice(4 * n + 3),
        },
      };
    });
    const regions = plans.map((plan, k) => {
      const peer = plans[1 - k]!;
      return new LocalRegion(
        plan,
        localBrokerSpec(o.stack, plan.name, n, { region: peer.name, amqpPorts: peer.ports.amqp }),
      );
    });
    const target = new LocalTarget(regions, state);
    const primary = regions[0]!;
    try {
      const t0 = performance.now();
      const secs = (): string => ((performance.now() - t0) / 1000).toFixed(1);
      const startOpts = regions.map((r, k): StartRegionOptions => {
        const peer = regions[1 - k]!;
        const all = localPools(o.stack.config, r.spec);
        const pools = o.poolsFor ? o.poolsFor(r.name, all) : all;
        return {
          plan: r.plan,
          spec: r.spec,
          pools,
          peer: { region: peer.name, federationPassword: peer.plan.passwords.federation },
          ...(k === 0 ? {} : { redisPrimary: { port: primary.plan.ports.redis } }),
          resultBackendForWorkers: () => primary.redisUrl,
          stateRedisForApi: () => primary.redisUrl,
          tasksModule: o.tasksModule,
          apiArgs: apiRoutingArgs(r.spec, all),
          state,
          log: say,
        };
      });
      await Promise.all(regions.map((r, k) => r.startServices(startOpts[k]!)));
      say(`  brokers and Redis up (${secs()} s)`);
      await Promise.all(regions.map((r, k) => r.startProcesses(startOpts[k]!)));
      say(`  workers and task APIs ready (${secs()} s)`);
      const links = await awaitFederation(regions);
      say(`  federation: ${links} federated-queue links running (${secs()} s)`);
      if (o.monitoring) {
        target.monitoring = await LocalMonitoring.start(regions, state, o.monitoring);
        say(`  monitoring: Prometheus per region and Alertmanager up (${secs()} s)`);
      }
      return target;
    } catch (err) {
      await target.stop();
      throw err;
    }
  }

  /** Stops everything this target started and removes its state folder. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.monitoring?.stop();
      await Promise.allSettled(this.regions.map((r) => r.stop()));
      this.state.remove();
    })();
    return this.stopping;
  }
}
