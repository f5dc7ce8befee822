/**
 * `npm run local`: the whole architecture on this machine. Two regions from the stack's
 * description, each with RabbitMQ (booted from the broker generator's files), Redis, the worker
 * pools and the task API, linked by federated queues; a demo workload through both regions' APIs
 * and its summary; then it stays up until Ctrl-C, which stops everything it started.
 */
import { pathToFileURL } from "node:url";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, UsageError, USAGE, DEFAULT_DEMO_TASKS, type LocalOptions } from "./args.js";
import { down, type StateDir } from "./stateDir.js";
import { loadStack, localRegionNames } from "./stack.js";
import { REPO_ROOT, type LocalRegion } from "./region.js";
import { LocalTarget } from "./target.js";
import type { LocalMonitoring } from "./monitoring.js";
import { ensureRuntimeBuilt } from "./runtimeBuild.js";
import { runDemo, type Workload } from "./demo.js";
import { summarize, formatSummary, type Summary } from "./summary.js";
import { ProgressBar } from "./progress.js";

const DEMO_TASKS_MODULE = join(REPO_ROOT, "local", "demoTasks.ts");

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The task module's demo workload, if it exports one. */
async function loadWorkload(module: string): Promise<Workload | undefined> {
  const mod = (await import(pathToFileURL(module).href)) as {
    demoWorkload?: unknown;
    app?: unknown;
  };
  if (!mod.app) {
    throw new UsageError(
      `--tasks: ${module} exports no "app"; export the app made with createApp()`,
    );
  }
  return typeof mod.demoWorkload === "function" ? (mod.demoWorkload as Workload) : undefined;
}

function endpoints(
  regions: readonly LocalRegion[],
  monitoring: LocalMonitoring | null,
): Record<string, unknown> {
  const m = monitoring?.urls();
  return Object.fromEntries(
    regions.map((r) => [
      r.name,
      {
        api: r.apiUrl,
        apiToken: r.apiToken,
        ...(m ? { prometheus: m.prometheus[r.name], alertmanager: m.alertmanager } : {}),
        apiMetrics: r.apiMetricsUrl,
        rabbitmqManagement: r.managementUrls(),
        rabbitmqMetrics: r.plan.ports.prometheus.map((p) => `http://127.0.0.1:${p}/metrics`),
        managementLogin: { user: r.spec.users.monitoring, password: r.plan.passwords.monitoring },
        amqpPorts: r.plan.ports.amqp,
        redis: r.redisUrl,
        workerMetrics: r.workers.map((w) => `http://127.0.0.1:${w.healthPort}/metrics`),
      },
    ]),
  );
}

function printEndpoints(
  regions: readonly LocalRegion[],
  monitoring: LocalMonitoring | null,
  state: StateDir,
  exampleTask: unknown,
): void {
  say("");
  const m = monitoring?.urls();
  for (const r of regions) {
    say(`region ${r.name}`);
    if (m) say(`  Prometheus        ${m.prometheus[r.name]}   (alerts: /alerts)`);
    say(`  task API          ${r.apiUrl}/v1/tasks     (metrics ${r.apiMetricsUrl})`);
    say(`  API token         ${r.apiToken}   (client "local-demo", any task; this run only)`);
    r.managementUrls().forEach((u, i) =>
      say(
        `  RabbitMQ ${String(i).padEnd(8)} ${u}   login ${r.spec.users.monitoring} / ${r.plan.passwords.monitoring}   (metrics http://127.0.0.1:${r.plan.ports.prometheus[i]}/metrics)`,
      ),
    );
    say(`  Redis             ${r.redisUrl}`);
    for (const w of r.workers) {
      say(
        `  worker           ${w.name.padEnd(28)} -Q ${w.pool.queues.join(",")}  (metrics http://127.0.0.1:${w.healthPort}/metrics)`,
      );
    }
  }
  if (m) say(`Alertmanager (both regions): ${m.alertmanager}`);
  say(`state folder: ${state.path} (logs: */*.log)`);
  if (exampleTask !== undefined) {
    say(
      `try: curl -s -XPOST ${regions[0]!.apiUrl}/v1/tasks -H 'authorization: Bearer ${regions[0]!.apiToken}' -H 'content-type: application/json' -d '${JSON.stringify(exampleTask)}'`,
    );
  }
}

export async function main(argv: string[]): Promise<number> {
  let opts: LocalOptions;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      say(`npm run local: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (opts.down) {
    const r = await down(opts.stateDir);
    if (!r.found) say(`nothing to clean up: ${opts.stateDir} does not exist`);
    else {
      say(
        `stopped ${r.stopped.length} process(es) left by a previous run${r.stopped.length ? `: ${r.stopped.map((p) => `${p.what} (pid ${p.pid})`).join(", ")}` : ""}; removed ${opts.stateDir}`,
      );
    }
    return 0;
  }

  // Everything below is validated before anything starts.
  const stack = loadStack(REPO_ROOT, opts.stack);
  const tasksModule = opts.tasks ?? DEMO_TASKS_MODULE;
  if (opts.tasks && !existsSync(opts.tasks)) {
    throw new UsageError(
      `--tasks: ${opts.tasks} does not exist; give the path of a .js, .mjs or .ts task module`,
    );
  }
  if (opts.tasks) ensureRuntimeBuilt(REPO_ROOT, say);
  const workload = await loadWorkload(tasksModule);
  let demoCount = opts.demo ?? (workload ? DEFAULT_DEMO_TASKS : 0);
  if (demoCount > 0 && !workload) {
    throw new UsageError(
      `--demo: ${tasksModule} exports no demoWorkload(i); export one (see local/demoTasks.ts) or pass --demo 0`,
    );
  }
  if (!workload) demoCount = 0;

  if (existsSync(opts.stateDir)) {
    const r = await down(opts.stateDir);
    if (r.stopped.length > 0) {
      say(`cleaned up ${r.stopped.length} process(es) a previous run left in ${opts.stateDir}`);
    }
  }
  const names = localRegionNames(stack.config);
  let target: LocalTarget | null = null;
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) {
      say(`second ${sig}: exiting now (run npm run local -- --down to clean up)`);
      process.exit(130);
    }
    interrupted = true;
    say(`\n${sig} received: stopping everything this run started...`);
    // While starting, the target is not built yet: stop what the state file records so far.
    const stop = target ? target.stop() : down(opts.stateDir, 5000).then(() => undefined);
    void stop.then(() => {
      say("stopped.");
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    say(
      `starting two regions (${names.join(", ")}) from stack "${opts.stack}" in ${opts.stateDir}: ` +
        `RabbitMQ x${opts.brokerNodes} each, Redis, ${stack.config.workers.pools.length} worker pools, task API`,
    );
    target = await LocalTarget.start({
      stack,
      stateDir: opts.stateDir,
      brokerNodes: opts.brokerNodes,
      tasksModule,
      monitoring: {},
      log: say,
    });
    const regions = target.regions;
    const primary = target.primary;
    target.state.setEndpoints(endpoints(regions, target.monitoring));

    let summary: Summary | null = null;
    let ingest: { seconds: number; tasksPerSecond: number } | null = null;
    if (demoCount > 0 && workload) {
      say(
        `\ndemo: ${demoCount.toLocaleString("en-US")} tasks through both regions' task APIs (${opts.batchSize > 1 ? `batches of ${opts.batchSize}` : "one request per task"})`,
      );
      const bar = new ProgressBar();
      const res = await runDemo({
        apis: regions.map((r, k) => ({
          region: r.name,
          url: r.apiUrl,
          token: r.apiToken,
          weight: k === 0 ? 3 : 1,
        })),
        batchSize: opts.batchSize,
        resultRedisUrls: [primary.redisUrl],
        count: demoCount,
        workload,
        onProgress: (p) => bar.update(p),
      });
      bar.end();
      summary = summarize(res.records, names, res.startedAt, res.endedAt);
      const ingestSeconds = (res.acceptedAt - res.startedAt) / 1000;
      ingest = {
        seconds: Number(ingestSeconds.toFixed(2)),
        tasksPerSecond: Math.round(summary.accepted / Math.max(ingestSeconds, 0.001)),
      };
      say(formatSummary(summary));
      say(
        `ingest: every task accepted (202) ${ingest.seconds} s after the first request: ${ingest.tasksPerSecond.toLocaleString("en-US")} tasks/s through the task APIs`,
      );
    }
    if (opts.json) {
      process.stdout.write(
        JSON.stringify(
          {
            stack: opts.stack,
            brokerNodes: opts.brokerNodes,
            regions: names,
            summary,
            ingest,
            endpoints: endpoints(regions, target.monitoring),
          },
          null,
          2,
        ) + "\n",
      );
    }
    if (opts.exit) {
      say("stopping everything this run started...");
      await target.stop();
      return summary === null || summary.ok ? 0 : 1;
    }
    printEndpoints(regions, target.monitoring, target.state, workload ? workload(0) : undefined);
    say("\nup; press Ctrl-C to stop everything this run started");
    await new Promise<never>(() => undefined);
    return 0;
  } catch (err) {
    say(`npm run local: ${(err as Error).message}`);
    await target?.stop();
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`npm run local: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
