/**
 * The RabbitMQ metrics the alert rules and dashboards use exist on a real RabbitMQ 3.10 node, on
 * the endpoints the generated scrape config names; the federation signal (consumers on the
 * upstream's `federation: …` queue) really follows the link; and a real Prometheus 2.42 run with
 * the generated config and rules scrapes the node, accepts every rule and dashboard query, and
 * puts `FederationPeerLinkDown` in pending once the downstream node is gone. A real taskfleet worker
 * (the runtime's CLI) serves every worker metric the rules use and is scraped as up and ready.
 */
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "amqplib";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  alertNames,
  generateAlertRules,
  referencedMetrics,
  renderRuleFile,
  RULE_FILE_NAME,
} from "../../../components/monitoring/alertRules.js";
import {
  generatePrometheusConfig,
  renderPrometheusConfig,
  type PrometheusConfig,
  type ScrapeConfig,
} from "../../../components/monitoring/scrapeConfig.js";
import {
  dashboardExpressions,
  generateDashboards,
} from "../../../components/monitoring/dashboards.js";
import { JOBS } from "../../../components/monitoring/metrics.js";
import {
  RabbitMqNode,
  freePort,
  startLogged,
  tail,
  waitExit,
  waitForPort,
} from "../../../local/services/index.js";
import { tempDir } from "../../support/tmp.js";

const EXCHANGE = "tf-mon-fed";
const QUEUE = "tf-mon-tasks";

const dir = tempDir("taskfleet-monitoring-");
const upstream = new RabbitMqNode({ dir: join(dir.path, "up") });
const downstream = new RabbitMqNode({ dir: join(dir.path, "down") });
const rules = generateAlertRules({ expectedBrokerNodes: 3 });
let worker: ChildProcess | undefined;
let workerPort = 0;
const workerLog = join(dir.path, "worker.log");

function config(rulesDir: string, intervalSeconds: number): PrometheusConfig {
  return generatePrometheusConfig({
    region: "local",
    rulesDir,
    scrapeIntervalSeconds: intervalSeconds,
    evaluationIntervalSeconds: intervalSeconds,
    targets: {
      rabbitmq: { kind: "static", targets: [`127.0.0.1:${upstream.prometheusPort}`] },
      workers: { kind: "static", targets: [`127.0.0.1:${workerPort}`] },
      // Nothing listens here: the API target is scraped as down.
      api: { kind: "static", targets: ["127.0.0.1:2"] },
    },
  });
}

function scrapeUrl(job: ScrapeConfig, target: string): string {
  const qs = Object.entries(job.params ?? {})
    .flatMap(([k, vs]) => vs.map((v) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
    .join("&");
  return `http://${target}${job.metrics_path}${qs ? `?${qs}` : ""}`;
}

async function scrape(jobName: string): Promise<string> {
  const job = config("/x", 30).scrape_configs.find((j) => j.job_name === jobName)!;
  const res = await fetch(scrapeUrl(job, job.static_configs![0]!.targets[0]!));
  expect(res.status).toBe(200);
  return res.text();
}

/** Names of the metric families in a Prometheus text exposition. */
function metricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

/** The value of the sample `name{…queue="<queue>"…}`, or undefined. */
function queueSample(text: string, name: string, queue: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes(`queue="${queue}"`)) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return undefined;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  f: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await f();
    if (last !== undefined) return last;
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

let federationQueue = "";

beforeAll(async () => {
  await Promise.all([upstream.start(), downstream.start()]);
  // Work on the upstream: a quorum task queue with a message, and the exchange to federate.
  const conn = await connect(upstream.url());
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(QUEUE, { durable: true, arguments: { "x-queue-type": "quorum" } });
    ch.sendToQueue(QUEUE, Buffer.from("task"), { persistent: true });
    await ch.assertExchange(EXCHANGE, "topic", { durable: true });
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
  // The downstream federates the exchange from the upstream (as one region does from another).
  await downstream.ctl([
    "set_parameter",
    "federation-upstream",
    "up",
    JSON.stringify({ uri: upstream.url(), "ack-mode": "on-confirm" }),
  ]);
  await downstream.ctl([
    "set_policy",
    "--apply-to",
    "exchanges",
    "tf-mon-federate",
    `^${EXCHANGE}$`,
    JSON.stringify({ "federation-upstream-set": "all" }),
  ]);
  const dconn = await connect(downstream.url());
  try {
    const ch = await dconn.createChannel();
    await ch.assertExchange(EXCHANGE, "topic", { durable: true });
  } finally {
    await dconn.close();
  }
  // A real worker on the upstream, serving /metrics on its health port.
  workerPort = await freePort();
  worker = startLogged(
    process.execPath,
    [
      "worker-runtime/bin/taskfleet.mjs",
      "worker",
      "-A",
      "test/worker-runtime/fixtures/tstasks.ts",
      "-Q",
      "tf-mon-worker",
      "-c",
      "2",
      "--health-port",
      String(workerPort),
    ],
    {
      logFile: workerLog,
      env: {
        ...process.env,
        TASKFLEET_BROKER_URL: upstream.url(),
        TASKFLEET_RESULT_BACKEND: inject("redisUrl"),
        TSTASKS_QUEUE: "tf-mon-worker",
      },
    },
  );
  await until(`the worker to be ready (log: ${workerLog})`, 60_000, async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${workerPort}/readyz`);
      return r.status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  });
  // The link shows on the upstream as a `federation: …` queue with one consumer.
  federationQueue = await until("the federation upstream queue", 30_000, async () => {
    const text = await scrape(JOBS.rabbitmqQueues);
    const m = /queue="(federation: [^"]+)"/.exec(text);
    if (m && queueSample(text, "rabbitmq_detailed_queue_consumers", m[1]!) === 1) return m[1]!;
    return undefined;
  });
}, 180_000);

afterAll(async () => {
  if (worker) {
    worker.kill("SIGTERM");
    if (!(await waitExit(worker, 30_000))) worker.kill("SIGKILL");
  }
  await Promise.allSettled([upstream.stop(), downstream.stop()]);
  dir.cleanup();
}, 120_000);

describe("RabbitMQ metrics used by the monitoring generators (real node)", () => {
  it("every rabbitmq_* metric the rules reference is served on the endpoint its job scrapes", async () => {
    const node = metricNames(await scrape(JOBS.rabbitmq));
    const queues = metricNames(await scrape(JOBS.rabbitmqQueues));
    const referenced = referencedMetrics(rules).filter((m) => m.startsWith("rabbitmq_"));
    expect(referenced.length).toBeGreaterThan(10);
    const missing = referenced.filter((m) =>
      m.startsWith("rabbitmq_detailed_") ? !queues.has(m) : !node.has(m),
    );
    expect(missing).toEqual([]);
    // The per-object endpoint carries the same families with queue labels.
    // (Queue stats reach the metrics at the node's statistics interval, 5 s by default.)
    const perObject = await until("per-object queue metrics", 30_000, async () => {
      const res = await fetch(`http://127.0.0.1:${upstream.prometheusPort}/metrics/per-object`);
      const text = await res.text();
      return queueSample(text, "rabbitmq_queue_messages_ready", QUEUE) === undefined
        ? undefined
        : text;
    });
    expect(queueSample(perObject, "rabbitmq_queue_messages_ready", QUEUE)).toBe(1);
    expect(perObject).toMatch(/^rabbitmq_identity_info\{rabbitmq_node="[^"]+"/m);
  });

  it("every rabbitmq_* metric the dashboards query exists too", async () => {
    const node = metricNames(await scrape(JOBS.rabbitmq));
    const queues = metricNames(await scrape(JOBS.rabbitmqQueues));
    const used = new Set<string>();
    for (const e of dashboardExpressions(generateDashboards())) {
      for (const m of e.matchAll(/(rabbitmq_[a-z_]+)\{/g)) used.add(m[1]!);
    }
    const missing = [...used].filter(
      (m) => !(m.startsWith("rabbitmq_detailed_") ? queues : node).has(m),
    );
    expect(missing).toEqual([]);
  });

  it("every taskfleet_* metric the rules reference is served by a real worker's /metrics", async () => {
    const res = await fetch(`http://127.0.0.1:${workerPort}/metrics`);
    expect(res.status).toBe(200);
    const served = metricNames(await res.text());
    const referenced = referencedMetrics(rules).filter(
      // (taskfleet_federation_* come from the federation exporter, tested on its own.)
      (m) => m.startsWith("taskfleet_") && !m.startsWith("taskfleet_federation_"),
    );
    expect(referenced).toHaveLength(7);
    expect(referenced.filter((m) => !served.has(m))).toEqual([]);
    for (const m of ["taskfleet_tasks_succeeded_total", "taskfleet_worker_prefetch"]) {
      expect(served.has(m), m).toBe(true);
    }
  });

  it("reports the task queue per queue on the detailed endpoint", async () => {
    const text = await until("detailed queue metrics", 30_000, async () => {
      const t = await scrape(JOBS.rabbitmqQueues);
      return queueSample(t, "rabbitmq_detailed_queue_messages_ready", QUEUE) === undefined
        ? undefined
        : t;
    });
    expect(queueSample(text, "rabbitmq_detailed_queue_messages_ready", QUEUE)).toBe(1);
    expect(queueSample(text, "rabbitmq_detailed_queue_consumers", QUEUE)).toBe(0);
    expect(federationQueue).toMatch(new RegExp(`^federation: ${EXCHANGE} -> `));
  });

  it("a real Prometheus 2.42 loads the generated config and rules, and FederationPeerLinkDown follows the link", async () => {
    const promDir = join(dir.path, "prometheus");
    mkdirSync(promDir, { recursive: true });
    writeFileSync(join(promDir, RULE_FILE_NAME), renderRuleFile(rules));
    writeFileSync(join(promDir, "prometheus.yml"), renderPrometheusConfig(config(promDir, 5)));
    const port = await freePort();
    const logFile = join(promDir, "prometheus.log");
    const child = startLogged(
      "/usr/bin/prometheus",
      [
        `--config.file=${join(promDir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(promDir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--storage.tsdb.retention.time=1d",
      ],
      { logFile },
    );
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (
      expr: string,
    ): Promise<{
      status: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    }> => {
      const r = await fetch(`${api}/query?query=${encodeURIComponent(expr)}`);
      return (await r.json()) as never;
    };
    try {
      await waitForPort(port, 30_000, `Prometheus (log: ${tail(logFile)})`);
      // It listens before it is ready (the API answers 503 until the TSDB is open).
      await until("Prometheus to be ready", 30_000, async () => {
        const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
        return r.status === 200 ? true : undefined;
      });
      // All generated rules loaded.
      const loaded = await until("rules to load", 30_000, async () => {
        const r = (await (await fetch(`${api}/rules`)).json()) as {
          data: { groups: { rules: { name: string; health: string }[] }[] };
        };
        const names = r.data.groups.flatMap((g) => g.rules);
        return names.length > 0 ? names : undefined;
      });
      expect(loaded.map((r) => r.name).sort()).toEqual(alertNames(rules).sort());
      expect(loaded.filter((r) => r.health === "err")).toEqual([]);
      // Every rule expression and dashboard query is valid PromQL for this server.
      for (const expr of [
        ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)),
        ...dashboardExpressions(generateDashboards()),
      ]) {
        expect((await query(expr)).status, expr).toBe("success");
      }
      // The node is scraped on both jobs; only one of the three configured nodes answers.
      await until("both RabbitMQ jobs to be scraped", 30_000, async () => {
        const up = await query('up{job=~"rabbitmq|rabbitmq-queues"} == 1');
        return up.data.result.length === 2 ? true : undefined;
      });
      const expr = (alert: string): string =>
        rules.groups.flatMap((g) => g.rules).find((r) => r.alert === alert)!.expr;
      // The worker is scraped, up and ready: the worker alerts' expressions are empty.
      await until("the worker to be scraped", 30_000, async () => {
        const r = await query('taskfleet_worker_ready{job="taskfleet-workers"} == 1');
        return r.data.result.length === 1 ? true : undefined;
      });
      for (const alert of ["WorkersAbsent", "WorkerScrapeMissing", "WorkerNotReady"]) {
        expect((await query(expr(alert))).data.result, alert).toEqual([]);
      }
      // The API target has nothing listening: TaskApiDown's expression matches it.
      const apiDown = await until("the API target to be scraped as down", 30_000, async () => {
        const r = await query(expr("TaskApiDown"));
        return r.data.result.length > 0 ? r.data.result : undefined;
      });
      expect(apiDown.map((r) => r.metric.instance)).toEqual(["127.0.0.1:2"]);
      const nodes = await query(rules.groups[0]!.rules[0]!.expr);
      expect(nodes.data.result.map((r) => r.value[1])).toEqual(["1"]);
      // While the link is up, FederationPeerLinkDown's expression is empty ...
      const linkDown = rules.groups
        .flatMap((g) => g.rules)
        .find((r) => r.alert === "FederationPeerLinkDown")!;
      expect((await query(linkDown.expr)).data.result).toEqual([]);
      // ... and once the downstream region's node is gone, it returns the upstream queue.
      await downstream.stop();
      const result = await until(
        "FederationPeerLinkDown's expression to match",
        40_000,
        async () => {
          const r = await query(linkDown.expr);
          return r.data.result.length > 0 ? r.data.result : undefined;
        },
      );
      expect(result.map((r) => [r.metric.queue, r.value[1]])).toEqual([[federationQueue, "0"]]);
      // The alert goes pending (it fires after its `for`), with the generated labels.
      const pending = await until("FederationPeerLinkDown to be pending", 30_000, async () => {
        const r = (await (await fetch(`${api}/alerts`)).json()) as {
          data: { alerts: { labels: Record<string, string>; state: string }[] };
        };
        const a = r.data.alerts.find((x) => x.labels.alertname === "FederationPeerLinkDown");
        return a;
      });
      expect(pending.state).toBe("pending");
      // (The `region` external label is added when alerts are sent to an Alertmanager.)
      expect(pending.labels).toEqual({
        alertname: "FederationPeerLinkDown",
        vhost: "/",
        queue: federationQueue,
        severity: "critical",
        layer: "queues",
      });
    } finally {
      child.kill("SIGTERM");
      if (!(await waitExit(child, 10_000))) child.kill("SIGKILL");
    }
  }, 150_000);
});
