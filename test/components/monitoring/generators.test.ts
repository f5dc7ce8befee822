import { describe, expect, it } from "vitest";
import {
  alertNames,
  generateAlertRules,
  referencedMetrics,
  renderRuleFile,
  RULE_FILE_NAME,
  type AlertRule,
} from "../../../components/monitoring/alertRules.js";
import {
  DEFAULT_ALERT_THRESHOLDS,
  resolveThresholds,
} from "../../../components/monitoring/thresholds.js";
import {
  generatePrometheusConfig,
  podLabelMeta,
  renderPrometheusConfig,
  retentionFlags,
  type ScrapeTargets,
} from "../../../components/monitoring/scrapeConfig.js";
import {
  dashboardExpressions,
  generateDashboards,
  grafanaDashboardProvider,
  grafanaDatasource,
} from "../../../components/monitoring/dashboards.js";

const ALL_ALERTS = [
  "RabbitMQNodesMissing",
  "RabbitMQNodeDown",
  "RabbitMQMemoryAlarm",
  "RabbitMQDiskAlarm",
  "RabbitMQMemoryNearWatermark",
  "RabbitMQFileDescriptorsNearLimit",
  "PublishNacks",
  "PublishesUnroutable",
  "QueueBacklogHigh",
  "QueueBacklogGrowing",
  "QueueWithoutConsumers",
  "FederationLinkDown",
  "FederationExporterDown",
  "FederationPeerLinkDown",
  "FederationBacklogHigh",
  "WorkerScrapeMissing",
  "WorkersAbsent",
  "WorkerNotReady",
  "TaskFailureRateHigh",
  "TaskRetryRateHigh",
  "TaskRuntimeP95High",
  "WorkersSaturated",
  "TaskApiDown",
  "RedisDown",
  "RedisMemoryHigh",
  "RedisLatencyHigh",
  "RedisEvictingKeys",
];

function find(alert: string, rules = generateAlertRules({ expectedBrokerNodes: 5 })): AlertRule {
  const r = rules.groups.flatMap((g) => g.rules).find((x) => x.alert === alert);
  if (!r) throw new Error(`no rule ${alert}`);
  return r;
}

describe("alert rules generator", () => {
  it("generates the documented alerts in four groups, each with severity, layer and runbook", () => {
    const file = generateAlertRules({ expectedBrokerNodes: 5 });
    expect(file.groups.map((g) => g.name)).toEqual([
      "taskfleet-broker",
      "taskfleet-queues",
      "taskfleet-workers",
      "taskfleet-storage",
    ]);
    expect(alertNames(file)).toEqual(ALL_ALERTS);
    for (const r of file.groups.flatMap((g) => g.rules)) {
      expect(["critical", "warning"]).toContain(r.labels.severity);
      expect(r.annotations.runbook).toBe(`docs/operations.md#${r.alert.toLowerCase()}`);
      expect(r.for).toMatch(/^\d+m$/);
    }
  });

  it("uses the configured broker count and the default thresholds in exact expressions", () => {
    expect(find("RabbitMQNodesMissing").expr).toBe(
      '(count(rabbitmq_identity_info{job="rabbitmq"}) or vector(0)) < 5',
    );
    expect(find("RabbitMQNodesMissing").for).toBe("2m");
    expect(find("RabbitMQMemoryAlarm").expr).toBe(
      'rabbitmq_alarms_memory_used_watermark{job="rabbitmq"} > 0',
    );
    expect(find("RabbitMQDiskAlarm").expr).toBe(
      'rabbitmq_alarms_free_disk_space_watermark{job="rabbitmq"} > 0',
    );
    expect(find("QueueBacklogHigh").expr).toBe(
      'max by (vhost, queue) (rabbitmq_detailed_queue_messages_ready{job="rabbitmq-queues", queue!~"federation: .*"}) > 50000',
    );
    expect(find("QueueBacklogGrowing").expr).toBe(
      'max by (vhost, queue) (delta(rabbitmq_detailed_queue_messages_ready{job="rabbitmq-queues", queue!~"federation: .*"}[10m])) > 5000',
    );
    expect(find("FederationPeerLinkDown").expr).toBe(
      'max by (vhost, queue) (rabbitmq_detailed_queue_consumers{job="rabbitmq-queues", queue=~"federation: .*"}) == 0',
    );
    expect(find("FederationPeerLinkDown").for).toBe("5m");
    expect(find("FederationLinkDown").expr).toBe(
      'max by (upstream, type, name, vhost) (taskfleet_federation_link_up{job="taskfleet-federation"}) == 0',
    );
    expect(find("WorkersAbsent").expr).toBe('absent(up{job="taskfleet-workers"} == 1)');
    expect(find("RedisMemoryHigh").expr).toBe(
      'redis_memory_used_bytes{job="redis"} / redis_memory_max_bytes{job="redis"} > 0.8 and redis_memory_max_bytes{job="redis"} > 0',
    );
    expect(find("RedisLatencyHigh").expr).toBe(
      'sum by (instance) (rate(redis_commands_duration_seconds_total{job="redis"}[5m])) / sum by (instance) (rate(redis_commands_total{job="redis"}[5m])) > 0.001',
    );
    expect(find("TaskRuntimeP95High").expr).toBe(
      'histogram_quantile(0.95, sum by (queue, le) (rate(taskfleet_task_runtime_seconds_bucket{job="taskfleet-workers"}[5m]))) > 300',
    );
  });

  it("applies threshold overrides and the dead-letter exclusion", () => {
    const file = generateAlertRules({
      expectedBrokerNodes: 7,
      thresholds: {
        queueBacklogMessages: 1000,
        brokerNodesMissingMinutes: 4,
        redisCommandMicroseconds: 250,
      },
      unconsumedQueuesRegex: ".*\\.dlq",
    });
    expect(find("RabbitMQNodesMissing", file).expr).toBe(
      '(count(rabbitmq_identity_info{job="rabbitmq"}) or vector(0)) < 7',
    );
    expect(find("RabbitMQNodesMissing", file).for).toBe("4m");
    expect(find("QueueBacklogHigh", file).expr).toMatch(/ > 1000$/);
    expect(find("RedisLatencyHigh", file).expr).toMatch(/ > 0\.00025$/);
    expect(find("QueueWithoutConsumers", file).expr).toContain(
      // (in PromQL's string literal, the regex's backslash is escaped)
      'queue!~".*\\\\.dlq|taskfleet[.]delay[.].*"',
    );
  });

  it("lists the metric names its expressions reference", () => {
    expect(referencedMetrics(generateAlertRules({ expectedBrokerNodes: 3 }))).toEqual([
      "rabbitmq_alarms_free_disk_space_watermark",
      "rabbitmq_alarms_memory_used_watermark",
      "rabbitmq_detailed_queue_consumers",
      "rabbitmq_detailed_queue_messages_ready",
      "rabbitmq_global_messages_confirmed_total",
      "rabbitmq_global_messages_received_confirm_total",
      "rabbitmq_global_messages_unroutable_dropped_total",
      "rabbitmq_global_messages_unroutable_returned_total",
      "rabbitmq_identity_info",
      "rabbitmq_process_max_fds",
      "rabbitmq_process_open_fds",
      "rabbitmq_process_resident_memory_bytes",
      "rabbitmq_resident_memory_limit_bytes",
      "redis_commands_duration_seconds_total",
      "redis_commands_total",
      "redis_evicted_keys_total",
      "redis_memory_max_bytes",
      "redis_memory_used_bytes",
      "redis_up",
      "taskfleet_federation_exporter_scrape_success",
      "taskfleet_federation_link_up",
      "taskfleet_task_runtime_seconds_bucket",
      "taskfleet_tasks_failed_total",
      "taskfleet_tasks_in_flight",
      "taskfleet_tasks_received_total",
      "taskfleet_tasks_retried_total",
      "taskfleet_worker_concurrency",
      "taskfleet_worker_ready",
      "up",
    ]);
  });

  it("renders a rule file Prometheus can parse (JSON is YAML)", () => {
    const file = generateAlertRules({ expectedBrokerNodes: 3 });
    expect(JSON.parse(renderRuleFile(file))).toEqual(file);
    expect(RULE_FILE_NAME).toBe("taskfleet-alerts.yml");
  });

  it("rejects bad input with the field, the value and what is allowed", () => {
    expect(() => generateAlertRules({ expectedBrokerNodes: 0 })).toThrow(
      "expectedBrokerNodes: 0 is not allowed; use a whole number from 1 to 99",
    );
    expect(() => generateAlertRules({ expectedBrokerNodes: 2.5 })).toThrow(
      "expectedBrokerNodes: 2.5 is not allowed; use a whole number from 1 to 99",
    );
    expect(() =>
      generateAlertRules({ expectedBrokerNodes: 3, unconsumedQueuesRegex: "(" }),
    ).toThrow(
      'unconsumedQueuesRegex: "(" is not a valid regular expression; use a non-empty RE2 pattern such as ".*dlq.*"',
    );
  });
});

describe("thresholds", () => {
  it("merges overrides over the defaults", () => {
    expect(resolveThresholds(undefined)).toEqual(DEFAULT_ALERT_THRESHOLDS);
    expect(resolveThresholds({ taskFailureRatio: 0.1 }).taskFailureRatio).toBe(0.1);
    expect(resolveThresholds({ taskFailureRatio: 0.1 }).queueBacklogMessages).toBe(50000);
  });

  it("rejects out-of-range, wrongly typed and unknown thresholds naming the field as written", () => {
    expect(() => resolveThresholds({ queueBacklogMessages: -5 }, "monitoring.thresholds")).toThrow(
      "monitoring.thresholds.queueBacklogMessages: -5 is not allowed; use a whole number of at least 1",
    );
    expect(() => resolveThresholds({ redisMemoryRatio: 1.5 })).toThrow(
      "thresholds.redisMemoryRatio: 1.5 is not allowed; use a fraction greater than 0 and less than 1",
    );
    expect(() => resolveThresholds({ federationLinkDownMinutes: 0 })).toThrow(
      "thresholds.federationLinkDownMinutes: 0 is not allowed; use a whole number of minutes from 1 to 1440",
    );
    expect(() => resolveThresholds({ unroutablePerSecond: "0" as unknown as number })).toThrow(
      'thresholds.unroutablePerSecond: "0" is not allowed; use a number of at least 0',
    );
    expect(() => resolveThresholds({ backlog: 5 } as unknown as Record<string, number>)).toThrow(
      /^thresholds\.backlog: unknown threshold; known thresholds are queueBacklogMessages, /,
    );
  });
});

const staticTargets: ScrapeTargets = {
  rabbitmq: { kind: "static", targets: ["127.0.0.1:15692"] },
  workers: { kind: "static", targets: ["127.0.0.1:9808", "127.0.0.1:9809"] },
  api: { kind: "static", targets: ["127.0.0.1:8080"] },
  redis: { kind: "static", targets: ["127.0.0.1:9121"] },
};

describe("Prometheus config generator", () => {
  it("scrapes node-level and per-queue RabbitMQ endpoints, workers, API and Redis exporter", () => {
    const cfg = generatePrometheusConfig({ region: "eu-west-1", targets: staticTargets });
    expect(cfg.global).toEqual({
      scrape_interval: "30s",
      evaluation_interval: "30s",
      external_labels: { region: "eu-west-1" },
    });
    expect(cfg.rule_files).toEqual(["/etc/prometheus/rules/taskfleet-alerts.yml"]);
    expect(cfg.alerting).toBeUndefined();
    expect(cfg.scrape_configs).toEqual([
      {
        job_name: "rabbitmq",
        metrics_path: "/metrics",
        static_configs: [{ targets: ["127.0.0.1:15692"] }],
      },
      {
        job_name: "rabbitmq-queues",
        metrics_path: "/metrics/detailed",
        params: { family: ["queue_coarse_metrics", "queue_consumer_count"] },
        static_configs: [{ targets: ["127.0.0.1:15692"] }],
      },
      {
        job_name: "taskfleet-workers",
        metrics_path: "/metrics",
        static_configs: [{ targets: ["127.0.0.1:9808", "127.0.0.1:9809"] }],
      },
      {
        job_name: "taskfleet-api",
        metrics_path: "/metrics",
        static_configs: [{ targets: ["127.0.0.1:8080"] }],
      },
      {
        job_name: "redis",
        metrics_path: "/metrics",
        static_configs: [{ targets: ["127.0.0.1:9121"] }],
      },
    ]);
  });

  it("discovers Kubernetes pods by label and rewrites the address to the metrics port", () => {
    const cfg = generatePrometheusConfig({
      region: "us-east-1",
      scrapeIntervalSeconds: 15,
      alertmanagers: ["alertmanager.monitoring:9093"],
      targets: {
        ...staticTargets,
        rabbitmq: {
          kind: "kubernetesPods",
          namespace: "taskfleet",
          podLabels: {
            "app.kubernetes.io/component": "broker",
            "app.kubernetes.io/part-of": "taskfleet",
          },
          port: 15692,
        },
      },
    });
    expect(cfg.global.scrape_interval).toBe("15s");
    expect(cfg.alerting).toEqual({
      alertmanagers: [{ static_configs: [{ targets: ["alertmanager.monitoring:9093"] }] }],
    });
    const job = cfg.scrape_configs[0]!;
    expect(job.kubernetes_sd_configs).toEqual([
      { role: "pod", namespaces: { names: ["taskfleet"] } },
    ]);
    expect(job.relabel_configs).toEqual([
      {
        source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_component"],
        regex: "broker",
        action: "keep",
      },
      {
        source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"],
        regex: "taskfleet",
        action: "keep",
      },
      { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Running", action: "keep" },
      {
        source_labels: ["__meta_kubernetes_pod_ip"],
        regex: "(.+)",
        target_label: "__address__",
        replacement: "$1:15692",
        action: "replace",
      },
      { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod", action: "replace" },
      {
        source_labels: ["__meta_kubernetes_namespace"],
        target_label: "namespace",
        action: "replace",
      },
      {
        source_labels: ["__meta_kubernetes_pod_node_name"],
        target_label: "node",
        action: "replace",
      },
    ]);
    expect(cfg.scrape_configs[1]!.relabel_configs).toEqual(job.relabel_configs);
    expect(podLabelMeta("taskfleet.io/pool")).toBe("__meta_kubernetes_pod_label_taskfleet_io_pool");
  });

  it("scrapes over HTTPS with the given CA and server name (RabbitMQ with TLS on)", () => {
    const cfg = generatePrometheusConfig({
      region: "x",
      targets: {
        ...staticTargets,
        rabbitmq: {
          kind: "kubernetesPods",
          namespace: "taskfleet",
          podLabels: { "app.kubernetes.io/component": "broker" },
          port: 15691,
          tls: {
            caFile: "/etc/prometheus/tls/brokers/ca.crt",
            serverName: "tf-broker.taskfleet.svc",
          },
        },
      },
    });
    for (const job of cfg.scrape_configs.slice(0, 2)) {
      expect(job.scheme).toBe("https");
      expect(job.tls_config).toEqual({
        ca_file: "/etc/prometheus/tls/brokers/ca.crt",
        server_name: "tf-broker.taskfleet.svc",
      });
    }
    expect(cfg.scrape_configs[2]!.scheme).toBeUndefined();
    expect(() =>
      generatePrometheusConfig({
        region: "x",
        targets: {
          ...staticTargets,
          api: { kind: "static", targets: ["a:1"], tls: { caFile: "ca.crt", serverName: "a" } },
        },
      }),
    ).toThrow(
      'targets.api.tls.caFile: "ca.crt" is not an absolute path; give the CA file inside the Prometheus container',
    );
    expect(() =>
      generatePrometheusConfig({
        region: "x",
        targets: {
          ...staticTargets,
          api: { kind: "static", targets: ["a:1"], tls: { caFile: "/ca.crt", serverName: "" } },
        },
      }),
    ).toThrow(
      'targets.api.tls.serverName: "" is not a host name; give a name the certificate carries',
    );
  });

  it("omits the redis job when no exporter is given, and renders parseable text", () => {
    const { redis: _r, ...noRedis } = staticTargets;
    const cfg = generatePrometheusConfig({ region: "dev", targets: noRedis });
    expect(cfg.scrape_configs.map((j) => j.job_name)).toEqual([
      "rabbitmq",
      "rabbitmq-queues",
      "taskfleet-workers",
      "taskfleet-api",
    ]);
    expect(JSON.parse(renderPrometheusConfig(cfg))).toEqual(cfg);
  });

  it("rejects bad input naming the field", () => {
    expect(() => generatePrometheusConfig({ region: "EU West", targets: staticTargets })).toThrow(
      'region: "EU West" is not allowed; use lowercase letters, digits and "-" (e.g. "us-east-1")',
    );
    expect(() =>
      generatePrometheusConfig({
        region: "x",
        targets: { ...staticTargets, workers: { kind: "static", targets: ["worker-1"] } },
      }),
    ).toThrow(
      'targets.workers.targets[0]: "worker-1" is not a target; use host:port such as "127.0.0.1:15692"',
    );
    expect(() =>
      generatePrometheusConfig({
        region: "x",
        targets: {
          ...staticTargets,
          api: { kind: "kubernetesPods", namespace: "tf", podLabels: {}, port: 8080 },
        },
      }),
    ).toThrow(
      "targets.api.podLabels: {} selects every pod in the namespace; give at least one label",
    );
    expect(() =>
      generatePrometheusConfig({
        region: "x",
        targets: {
          ...staticTargets,
          api: { kind: "kubernetesPods", namespace: "tf", podLabels: { app: "api" }, port: 70000 },
        },
      }),
    ).toThrow("targets.api.port: 70000 is not a port; use 1 to 65535");
    expect(() =>
      generatePrometheusConfig({ region: "x", targets: staticTargets, scrapeIntervalSeconds: 1 }),
    ).toThrow("scrapeIntervalSeconds: 1 is not allowed; use whole seconds from 5 to 300");
  });

  it("sets retention by time and caps it at 90% of the volume", () => {
    expect(retentionFlags()).toEqual([
      "--storage.tsdb.retention.time=30d",
      "--storage.tsdb.retention.size=92160MB",
    ]);
    expect(retentionFlags({ retentionDays: 90, storageSizeGiB: 500 })).toEqual([
      "--storage.tsdb.retention.time=90d",
      "--storage.tsdb.retention.size=460800MB",
    ]);
    expect(() => retentionFlags({ retentionDays: 0 })).toThrow(
      "retentionDays: 0 is not allowed; use whole days from 1 to 3650",
    );
    expect(() => retentionFlags({ storageSizeGiB: 1 })).toThrow(
      "storageSizeGiB: 1 is not allowed; use whole GiB from 2 to 16384",
    );
  });
});

describe("Grafana dashboards generator", () => {
  it("generates queues, workers, Redis and federation dashboards on the provisioned data source", () => {
    const ds = generateDashboards();
    expect(Object.keys(ds)).toEqual([
      "taskfleet-queues.json",
      "taskfleet-workers.json",
      "taskfleet-redis.json",
      "taskfleet-federation.json",
    ]);
    expect(Object.values(ds).map((d) => [d.uid, d.title, d.panels.length])).toEqual([
      ["taskfleet-queues", "taskfleet / Queues", 9],
      ["taskfleet-workers", "taskfleet / Workers", 6],
      ["taskfleet-redis", "taskfleet / Result backend (Redis)", 6],
      ["taskfleet-federation", "taskfleet / Federation", 5],
    ]);
    for (const d of Object.values(ds)) {
      expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
      for (const p of d.panels) {
        expect(p.datasource).toEqual({ type: "prometheus", uid: "taskfleet-prometheus" });
        expect(p.targets.length).toBeGreaterThan(0);
      }
    }
    const fed = ds["taskfleet-federation.json"]!;
    expect(fed.panels[0]!.targets[0]!.expr).toBe(
      'taskfleet_federation_link_up{job="taskfleet-federation"}',
    );
    expect(fed.panels[1]!.targets[0]!.expr).toBe(
      'max by (queue) (rabbitmq_detailed_queue_consumers{job="rabbitmq-queues", queue=~"federation: .*"})',
    );
    expect(ds["taskfleet-queues.json"]!.panels[1]!.gridPos).toEqual({ x: 12, y: 0, w: 12, h: 8 });
    expect(dashboardExpressions(ds)).toHaveLength(34);
  });

  it("provisions the data source and the dashboard folder", () => {
    expect(JSON.parse(grafanaDatasource("http://prom:9090")).datasources[0]).toEqual({
      name: "Prometheus",
      uid: "taskfleet-prometheus",
      type: "prometheus",
      access: "proxy",
      url: "http://prom:9090",
      isDefault: true,
      editable: false,
    });
    expect(
      JSON.parse(grafanaDashboardProvider("/var/lib/grafana/dashboards")).providers[0].options,
    ).toEqual({
      path: "/var/lib/grafana/dashboards",
    });
  });
});
