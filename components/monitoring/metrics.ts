/**
 * Metric names and scrape job names the monitoring generators rely on. Pure constants: the
 * contract between the monitored processes and the alert rules, the dashboards and
 * `docs/operations.md`.
 */

/** Prometheus job names; rules select on them, so they are part of the contract too. */
export const JOBS = {
  /** Each RabbitMQ node's `/metrics` (node-level: alarms, identity, global counters). */
  rabbitmq: "rabbitmq",
  /** Each RabbitMQ node's `/metrics/detailed` with per-queue families (labels vhost, queue). */
  rabbitmqQueues: "rabbitmq-queues",
  /** Each taskfleet worker's `/metrics`. */
  workers: "taskfleet-workers",
  /** The task API's `/metrics`. */
  api: "taskfleet-api",
  /** redis_exporter in front of the result backend. */
  redis: "redis",
  /** taskfleet's federation exporter (link state from the management API). */
  federation: "taskfleet-federation",
  /** kube-state-metrics: Kubernetes objects' state (nodes, PVCs, workloads). */
  kubeStateMetrics: "kube-state-metrics",
  /** node-exporter on every node: filesystems, memory, CPU. */
  nodeExporter: "node-exporter",
  /** Every node's kubelet: persistent volume usage. */
  kubelet: "kubelet",
  /** The region's Alertmanager replicas. */
  alertmanager: "alertmanager",
} as const;
export type JobName = (typeof JOBS)[keyof typeof JOBS];

/** Port of RabbitMQ's `rabbitmq_prometheus` plugin (plain HTTP). */
export const RABBITMQ_PROMETHEUS_PORT = 15692;
/** Port redis_exporter listens on. */
export const REDIS_EXPORTER_PORT = 9121;
/** Port taskfleet's federation exporter listens on. */
export const FEDERATION_EXPORTER_PORT = 9877;
/** Ports of the cluster exporters and Alertmanager (their projects' defaults). */
export const KUBE_STATE_METRICS_PORT = 8080;
export const NODE_EXPORTER_PORT = 9100;
export const ALERTMANAGER_PORT = 9093;
export const ALERTMANAGER_CLUSTER_PORT = 9094;

/**
 * Families requested from `/metrics/detailed` for per-queue series. They come out prefixed
 * `rabbitmq_detailed_`, so they never mix with the aggregated series of the `/metrics` job.
 */
export const RABBITMQ_DETAILED_FAMILIES: readonly string[] = Object.freeze([
  "queue_coarse_metrics",
  "queue_consumer_count",
]);

/** RabbitMQ 3.10 `rabbitmq_prometheus` metric names the rules use (checked against a real node). */
export const RABBITMQ_METRICS = {
  identityInfo: "rabbitmq_identity_info",
  memoryAlarm: "rabbitmq_alarms_memory_used_watermark",
  diskAlarm: "rabbitmq_alarms_free_disk_space_watermark",
  residentMemoryBytes: "rabbitmq_process_resident_memory_bytes",
  residentMemoryLimitBytes: "rabbitmq_resident_memory_limit_bytes",
  openFds: "rabbitmq_process_open_fds",
  maxFds: "rabbitmq_process_max_fds",
  receivedConfirm: "rabbitmq_global_messages_received_confirm_total",
  confirmed: "rabbitmq_global_messages_confirmed_total",
  unroutableDropped: "rabbitmq_global_messages_unroutable_dropped_total",
  unroutableReturned: "rabbitmq_global_messages_unroutable_returned_total",
  messagesReady: "rabbitmq_queue_messages_ready",
  messagesUnacked: "rabbitmq_queue_messages_unacked",
  queueReady: "rabbitmq_detailed_queue_messages_ready",
  queueUnacked: "rabbitmq_detailed_queue_messages_unacked",
  queueConsumers: "rabbitmq_detailed_queue_consumers",
} as const;

/** redis_exporter metric names the rules use. */
export const REDIS_METRICS = {
  up: "redis_up",
  memoryUsedBytes: "redis_memory_used_bytes",
  memoryMaxBytes: "redis_memory_max_bytes",
  commandsDurationSecondsTotal: "redis_commands_duration_seconds_total",
  commandsTotal: "redis_commands_total",
  evictedKeysTotal: "redis_evicted_keys_total",
} as const;

/**
 * Metrics every taskfleet worker serves on `/metrics` (the worker runtime's contract, listed in
 * docs/operations.md). Counters and the histogram carry a `queue` label; gauges are per worker.
 */
export const WORKER_METRICS = {
  received: "taskfleet_tasks_received_total",
  succeeded: "taskfleet_tasks_succeeded_total",
  failed: "taskfleet_tasks_failed_total",
  retried: "taskfleet_tasks_retried_total",
  runtimeSeconds: "taskfleet_task_runtime_seconds",
  inFlight: "taskfleet_tasks_in_flight",
  concurrency: "taskfleet_worker_concurrency",
  prefetch: "taskfleet_worker_prefetch",
  ready: "taskfleet_worker_ready",
} as const;

/** Metrics of taskfleet's federation exporter (`exporter/federation-exporter.mjs`). */
export const FEDERATION_METRICS = {
  /** Labels upstream, type (queue|exchange), name, vhost, node; 1 when running. */
  linkUp: "taskfleet_federation_link_up",
  links: "taskfleet_federation_links",
  scrapeSuccess: "taskfleet_federation_exporter_scrape_success",
} as const;

/**
 * Queues RabbitMQ's federation plugin creates on the upstream side of an exchange federation
 * link (`federation: <exchange> -> <downstream>`). The link is the queue's consumer.
 */
export const FEDERATION_QUEUE_REGEX = "federation: .*";

/**
 * The worker runtime's retry delay queues (`taskfleet.delay.<n>`, worker-runtime's
 * amqp/topology.ts): messages wait there for their TTL without a consumer, by design.
 */
export const DELAY_QUEUE_REGEX = "taskfleet[.]delay[.].*";

/**
 * kube-state-metrics v2 names (docs/metrics in kubernetes/kube-state-metrics: node, persistentvolumeclaim).
 * Conditions carry `node`, `condition` and `status` ("true", "false", "unknown").
 */
export const KUBE_METRICS = {
  nodeCondition: "kube_node_status_condition",
  pvcPhase: "kube_persistentvolumeclaim_status_phase",
} as const;

/** node-exporter names (checked against a real node-exporter 1.5 by the test suite). */
export const NODE_METRICS = {
  filesystemAvailBytes: "node_filesystem_avail_bytes",
  filesystemSizeBytes: "node_filesystem_size_bytes",
  filesystemReadonly: "node_filesystem_readonly",
  memAvailableBytes: "node_memory_MemAvailable_bytes",
  memTotalBytes: "node_memory_MemTotal_bytes",
} as const;

/** Kubelet volume statistics (labels `namespace`, `persistentvolumeclaim`). */
export const KUBELET_METRICS = {
  volumeAvailableBytes: "kubelet_volume_stats_available_bytes",
  volumeCapacityBytes: "kubelet_volume_stats_capacity_bytes",
} as const;

/** Alertmanager's own metrics (checked against a real Alertmanager 0.25 by the test suite). */
export const ALERTMANAGER_METRICS = {
  clusterMembers: "alertmanager_cluster_members",
  notificationsFailed: "alertmanager_notifications_failed_total",
  notifications: "alertmanager_notifications_total",
} as const;
