/**
 * Prometheus alert rules for one region (seed S34–S37), generated from the region's broker node
 * count and the alert thresholds. Pure: plain data in, a rule file (as data or text) out.
 */
import {
  FEDERATION_METRICS as F,
  DELAY_QUEUE_REGEX,
  FEDERATION_QUEUE_REGEX,
  JOBS,
  RABBITMQ_METRICS as R,
  REDIS_METRICS as D,
  WORKER_METRICS as W,
} from "./metrics.js";
import { resolveThresholds, type AlertThresholds } from "./thresholds.js";
import { alertingRules, clusterRules } from "./clusterAlertRules.js";
import {
  minutes,
  num,
  promqlString,
  rule,
  sel,
  type AlertRule,
  type RuleGroup,
} from "./ruleKit.js";

export {
  runbookAnchor,
  type AlertRule,
  type Layer,
  type RuleFile,
  type RuleGroup,
  type Severity,
} from "./ruleKit.js";
import type { RuleFile } from "./ruleKit.js";

export interface AlertRulesInput {
  /** Broker nodes the region is configured with (S13); fewer seen fires `RabbitMQNodesMissing`. */
  expectedBrokerNodes: number;
  /** Threshold overrides; see `AlertThresholds`. @default DEFAULT_ALERT_THRESHOLDS */
  thresholds?: Partial<AlertThresholds>;
  /**
   * Queues (regex on the queue name) that may hold messages without consumers, such as dead-letter
   * queues; `QueueWithoutConsumers` ignores them.
   * @default ".*(dlq|dead).*"
   */
  unconsumedQueuesRegex?: string;
  /**
   * Worker pools expected to run at least one worker (their `minReplicas` is at least 1); each
   * gets a `WorkerPoolDown` rule on the `pool` label of its workers' scrape targets.
   * @default [] (no per-pool rule; `WorkersAbsent` still watches all workers together)
   */
  workerPools?: readonly string[];
  /**
   * Rules on the Kubernetes cluster itself (nodes, their disks, persistent volumes), from
   * kube-state-metrics, node-exporter and the kubelets. @default false
   */
  cluster?: boolean;
  /** Alertmanager replicas Prometheus sends to; their own rules are added when set. @default - no rules */
  alertmanagerReplicas?: number;
}

export const DEFAULT_UNCONSUMED_QUEUES_REGEX = ".*(dlq|dead).*";

/** The file name the rules are placed under (in the ConfigMap and in `rule_files`). */
export const RULE_FILE_NAME = "taskfleet-alerts.yml";

function validateInput(input: AlertRulesInput): void {
  const n = input.expectedBrokerNodes;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 99) {
    throw new Error(
      `expectedBrokerNodes: ${JSON.stringify(n)} is not allowed; use a whole number from 1 to 99`,
    );
  }
  const re = input.unconsumedQueuesRegex;
  if (re !== undefined) {
    let ok = typeof re === "string" && re.length > 0;
    if (ok) {
      try {
        new RegExp(`^(?:${re})$`);
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      throw new Error(
        `unconsumedQueuesRegex: ${JSON.stringify(re)} is not a valid regular expression; use a non-empty RE2 pattern such as ".*dlq.*"`,
      );
    }
  }
}

function validatePools(pools: readonly string[] | undefined): void {
  for (const [i, p] of (pools ?? []).entries()) {
    if (typeof p !== "string" || !/^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/.test(p)) {
      throw new Error(
        `workerPools[${i}]: ${JSON.stringify(p)} is not a pool name; use letters, digits, "_", "-" and "."`,
      );
    }
  }
}

/** Generates the region's rule file. Throws a message naming the field on bad input. */
export function generateAlertRules(input: AlertRulesInput): RuleFile {
  validateInput(input);
  validatePools(input.workerPools);
  const t = resolveThresholds(input.thresholds);
  const rmq = sel(JOBS.rabbitmq);
  const fed = `queue=~"${FEDERATION_QUEUE_REGEX}"`;
  const notFed = `queue!~"${FEDERATION_QUEUE_REGEX}"`;
  // The runtime's retry delay queues hold messages without consumers by design, as dead-letter
  // queues do (their messages expire back into the work queues).
  // Inside a PromQL string literal a backslash starts an escape: `\.` must be written `\\.`.
  const unconsumed = promqlString(
    `${input.unconsumedQueuesRegex ?? DEFAULT_UNCONSUMED_QUEUES_REGEX}|${DELAY_QUEUE_REGEX}`,
  );
  const qReady = `${R.queueReady}${sel(JOBS.rabbitmqQueues, notFed)}`;
  const wk = sel(JOBS.workers);
  const rd = sel(JOBS.redis);

  const broker: AlertRule[] = [
    rule(
      "RabbitMQNodesMissing",
      "broker",
      "critical",
      minutes(t.brokerNodesMissingMinutes),
      `(count(${R.identityInfo}${rmq}) or vector(0)) < ${input.expectedBrokerNodes}`,
      "Fewer RabbitMQ nodes than configured are up",
      `{{ $value }} of ${input.expectedBrokerNodes} broker nodes answer; quorum queues lose their majority if more nodes go.`,
    ),
    rule(
      "RabbitMQNodeDown",
      "broker",
      "critical",
      minutes(t.brokerNodesMissingMinutes),
      `up${rmq} == 0`,
      "A RabbitMQ node does not answer",
      "Broker node {{ $labels.instance }} does not serve its metrics: it is down, restarting or unreachable.",
    ),
    rule(
      "RabbitMQMemoryAlarm",
      "broker",
      "critical",
      "1m",
      `${R.memoryAlarm}${rmq} > 0`,
      "RabbitMQ memory alarm: publishers are blocked",
      "Node {{ $labels.instance }} is above its memory high watermark and blocks every publishing connection.",
    ),
    rule(
      "RabbitMQDiskAlarm",
      "broker",
      "critical",
      "1m",
      `${R.diskAlarm}${rmq} > 0`,
      "RabbitMQ disk alarm: publishers are blocked",
      "Node {{ $labels.instance }} has less free disk than its limit and blocks every publishing connection.",
    ),
    rule(
      "RabbitMQMemoryNearWatermark",
      "broker",
      "warning",
      "5m",
      `${R.residentMemoryBytes}${rmq} / ${R.residentMemoryLimitBytes}${rmq} > ${num(t.rabbitmqMemoryWarningRatio)}`,
      "RabbitMQ memory close to the high watermark",
      "Node {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its memory limit.",
    ),
    rule(
      "RabbitMQFileDescriptorsNearLimit",
      "broker",
      "warning",
      "5m",
      `${R.openFds}${rmq} / ${R.maxFds}${rmq} > ${num(t.rabbitmqFileDescriptorRatio)}`,
      "RabbitMQ file descriptors close to the limit",
      "Node {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its file descriptors; new connections will be refused at the limit.",
    ),
    rule(
      "PublishNacks",
      "broker",
      "warning",
      "5m",
      `(sum by (instance) (rate(${R.receivedConfirm}${rmq}[5m])) - sum by (instance) (rate(${R.confirmed}${rmq}[5m]))) / sum by (instance) (rate(${R.receivedConfirm}${rmq}[5m])) > ${num(t.publishNackRatio)}`,
      "Publishes are not being confirmed",
      "{{ $value | humanizePercentage }} of confirm-mode publishes to {{ $labels.instance }} were not confirmed (nacked, e.g. by reject-publish overflow).",
    ),
    rule(
      "PublishesUnroutable",
      "broker",
      "warning",
      "5m",
      `sum by (instance) (rate(${R.unroutableDropped}${rmq}[5m]) + rate(${R.unroutableReturned}${rmq}[5m])) > ${num(t.unroutablePerSecond)}`,
      "Published messages match no queue",
      "{{ $value }} messages per second to {{ $labels.instance }} are dropped or returned as unroutable.",
    ),
  ];

  const queues: AlertRule[] = [
    rule(
      "QueueBacklogHigh",
      "queues",
      "warning",
      "5m",
      `max by (vhost, queue) (${qReady}) > ${num(t.queueBacklogMessages)}`,
      "Queue backlog above threshold",
      `Queue {{ $labels.queue }} holds {{ $value }} ready messages (threshold ${t.queueBacklogMessages}).`,
    ),
    rule(
      "QueueBacklogGrowing",
      "queues",
      "warning",
      "5m",
      `max by (vhost, queue) (delta(${qReady}[${minutes(t.queueBacklogGrowthWindowMinutes)}])) > ${num(t.queueBacklogGrowthMessages)}`,
      "Queue backlog is growing",
      `Queue {{ $labels.queue }} grew by {{ $value }} ready messages in ${t.queueBacklogGrowthWindowMinutes} minutes: consumers fall behind.`,
    ),
    rule(
      "QueueWithoutConsumers",
      "queues",
      "warning",
      minutes(t.queueWithoutConsumersMinutes),
      `max by (vhost, queue) (${R.queueReady}${sel(JOBS.rabbitmqQueues, `${notFed}, queue!~${unconsumed}`)}) > 0 and on (vhost, queue) max by (vhost, queue) (${R.queueConsumers}${sel(JOBS.rabbitmqQueues, `${notFed}, queue!~${unconsumed}`)}) == 0`,
      "Queue has messages but no consumer",
      "Queue {{ $labels.queue }} holds {{ $value }} ready messages and no worker consumes it.",
    ),
    rule(
      "FederationLinkDown",
      "queues",
      "critical",
      minutes(t.federationLinkDownMinutes),
      `max by (upstream, type, name, vhost) (${F.linkUp}${sel(JOBS.federation)}) == 0`,
      "Federation link down",
      "This region's federation link from {{ $labels.upstream }} ({{ $labels.type }} {{ $labels.name }}) is not running: messages from that region do not arrive here.",
    ),
    rule(
      "FederationExporterDown",
      "queues",
      "warning",
      "5m",
      `up${sel(JOBS.federation)} == 0 or ${F.scrapeSuccess}${sel(JOBS.federation)} == 0`,
      "Federation links are not watched",
      "The federation exporter {{ $labels.instance }} is down or cannot read the management API, so FederationLinkDown cannot fire.",
    ),
    rule(
      "FederationPeerLinkDown",
      "queues",
      "critical",
      minutes(t.federationLinkDownMinutes),
      `max by (vhost, queue) (${R.queueConsumers}${sel(JOBS.rabbitmqQueues, fed)}) == 0`,
      "Federation link down",
      "Upstream queue {{ $labels.queue }} has no consumer: the downstream region's federation link is not connected, so messages for that region wait here.",
    ),
    rule(
      "FederationBacklogHigh",
      "queues",
      "warning",
      "10m",
      `max by (vhost, queue) (${R.queueReady}${sel(JOBS.rabbitmqQueues, fed)}) > ${num(t.federationBacklogMessages)}`,
      "Federation link falling behind",
      `Upstream queue {{ $labels.queue }} buffers {{ $value }} messages for another region (threshold ${t.federationBacklogMessages}).`,
    ),
  ];

  const workers: AlertRule[] = [
    rule(
      "WorkerScrapeMissing",
      "workers",
      "critical",
      minutes(t.workerMissingMinutes),
      `up${wk} == 0`,
      "A worker stopped answering",
      "Worker {{ $labels.instance }} has not served /metrics (its heartbeat) for the alert window.",
    ),
    rule(
      "WorkersAbsent",
      "workers",
      "critical",
      minutes(t.workerMissingMinutes),
      `absent(up${wk} == 1)`,
      "No worker is up",
      "No taskfleet worker target answers in this region; tasks are not being processed.",
    ),
    ...(input.workerPools ?? []).map((pool) =>
      rule(
        "WorkerPoolDown",
        "workers",
        "critical",
        minutes(t.workerMissingMinutes),
        `absent(up${sel(JOBS.workers, `pool="${pool}"`)} == 1)`,
        "A worker pool has no worker up",
        `No worker of pool ${pool} answers: its queues are not consumed in this region.`,
        { pool },
      ),
    ),
    rule(
      "WorkerNotReady",
      "workers",
      "warning",
      minutes(t.workerMissingMinutes),
      `${W.ready}${wk} == 0`,
      "A worker reports not ready",
      "Worker {{ $labels.instance }} answers but reports taskfleet_worker_ready 0 (not consuming).",
    ),
    rule(
      "TaskFailureRateHigh",
      "workers",
      "warning",
      "10m",
      `sum by (queue) (rate(${W.failed}${wk}[5m])) / sum by (queue) (rate(${W.received}${wk}[5m])) > ${num(t.taskFailureRatio)}`,
      "Many tasks fail",
      "{{ $value | humanizePercentage }} of tasks{{ with $labels.queue }} from queue {{ . }}{{ end }} fail.",
    ),
    rule(
      "TaskRetryRateHigh",
      "workers",
      "warning",
      "10m",
      `sum by (queue) (rate(${W.retried}${wk}[5m])) / sum by (queue) (rate(${W.received}${wk}[5m])) > ${num(t.taskRetryRatio)}`,
      "Many tasks are retried",
      "{{ $value | humanizePercentage }} of tasks{{ with $labels.queue }} from queue {{ . }}{{ end }} are retried.",
    ),
    rule(
      "TaskRuntimeP95High",
      "workers",
      "warning",
      "15m",
      `histogram_quantile(0.95, sum by (queue, le) (rate(${W.runtimeSeconds}_bucket${wk}[5m]))) > ${num(t.taskRuntimeP95Seconds)}`,
      "Tasks run slowly",
      `95% of tasks{{ with $labels.queue }} from queue {{ . }}{{ end }} finish within {{ $value }} s (threshold ${t.taskRuntimeP95Seconds} s).`,
    ),
    rule(
      "WorkersSaturated",
      "workers",
      "warning",
      "15m",
      `sum(${W.inFlight}${wk}) / sum(${W.concurrency}${wk}) > ${num(t.workerSaturationRatio)}`,
      "Workers are saturated",
      "{{ $value | humanizePercentage }} of worker concurrency is busy; add workers or raise the autoscaling maximum.",
    ),
    rule(
      "TaskApiDown",
      "workers",
      "critical",
      minutes(t.workerMissingMinutes),
      `up${sel(JOBS.api)} == 0`,
      "A task API instance stopped answering",
      "Task API {{ $labels.instance }} has not served /metrics for the alert window.",
    ),
  ];

  const storage: AlertRule[] = [
    rule(
      "RedisDown",
      "storage",
      "critical",
      "2m",
      `${D.up}${rd} == 0 or up${rd} == 0`,
      "Result backend unreachable",
      "redis_exporter {{ $labels.instance }} cannot reach Redis, or is itself down; task results are not stored.",
    ),
    rule(
      "RedisMemoryHigh",
      "storage",
      "warning",
      "5m",
      `${D.memoryUsedBytes}${rd} / ${D.memoryMaxBytes}${rd} > ${num(t.redisMemoryRatio)} and ${D.memoryMaxBytes}${rd} > 0`,
      "Result backend memory high",
      "Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of maxmemory.",
    ),
    rule(
      "RedisLatencyHigh",
      "storage",
      "warning",
      "10m",
      `sum by (instance) (rate(${D.commandsDurationSecondsTotal}${rd}[5m])) / sum by (instance) (rate(${D.commandsTotal}${rd}[5m])) > ${num(t.redisCommandMicroseconds / 1e6)}`,
      "Result backend commands slow",
      `Redis {{ $labels.instance }} spends {{ $value | humanizeDuration }} per command on average (threshold ${t.redisCommandMicroseconds} µs).`,
    ),
    rule(
      "RedisEvictingKeys",
      "storage",
      "warning",
      "5m",
      `rate(${D.evictedKeysTotal}${rd}[5m]) > ${num(t.redisEvictionsPerSecond)}`,
      "Result backend evicts keys",
      "Redis {{ $labels.instance }} evicts {{ $value }} keys per second: task results are being lost before they expire.",
    ),
  ];

  const groups: RuleGroup[] = [
    { name: "taskfleet-broker", rules: broker },
    { name: "taskfleet-queues", rules: queues },
    { name: "taskfleet-workers", rules: workers },
    { name: "taskfleet-storage", rules: storage },
  ];
  if (input.cluster) groups.push({ name: "taskfleet-cluster", rules: clusterRules(t) });
  if (input.alertmanagerReplicas !== undefined) {
    groups.push({
      name: "taskfleet-alerting",
      rules: alertingRules(input.alertmanagerReplicas),
    });
  }
  return { groups };
}

/** Every alert name in a rule file, in order. */
export function alertNames(file: RuleFile): string[] {
  return file.groups.flatMap((g) => g.rules.map((r) => r.alert));
}

/** Every metric name a rule file's expressions reference (identifiers followed by `{`). */
export function referencedMetrics(file: RuleFile): string[] {
  const names = new Set<string>();
  for (const g of file.groups) {
    for (const r of g.rules) {
      for (const m of r.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)) names.add(m[1]!);
    }
  }
  return [...names].sort();
}

/** The rule file as text Prometheus loads (JSON, which is valid YAML). */
export function renderRuleFile(file: RuleFile): string {
  return JSON.stringify(file, null, 2) + "\n";
}
