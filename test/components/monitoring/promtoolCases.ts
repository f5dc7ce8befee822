/**
 * `promtool test rules` cases: for every generated alert, input series that must fire it (with
 * the exact labels and description) and series that must not. Rules are generated with
 * `expectedBrokerNodes: 3` and the default thresholds.
 */

export interface Series {
  series: string;
  values: string;
}

export interface ExpectedAlert {
  /** Labels of the firing alert besides `severity` and `layer` (taken from the rule). */
  labels: Record<string, string>;
  /** The rule's description with its template expanded. */
  description: string;
}

export interface PromtoolCase {
  series: Series[];
  evalTime: string;
  alerts: ExpectedAlert[];
}

export interface AlertCases {
  fire: PromtoolCase[];
  quiet: PromtoolCase[];
}

const s = (series: string, values: string): Series => ({ series, values });
const RMQ = 'job="rabbitmq", instance="rabbit-0:15692"';
const RMQ_LABELS = { job: "rabbitmq", instance: "rabbit-0:15692" };
const Q = 'job="rabbitmq-queues", instance="rabbit-0:15692", vhost="/"';
const FEDQ = "federation: tasks -> rabbit@eu-west-1";
const WK = (i: number): string => `job="taskfleet-workers", instance="worker-${i}:9808"`;
const RD = 'job="redis", instance="redis-exporter:9121"';
const FX = 'job="taskfleet-federation", instance="fx:9877"';
const RD_LABELS = { job: "redis", instance: "redis-exporter:9121" };

export const PROMTOOL_CASES: Record<string, AlertCases> = {
  RabbitMQNodesMissing: {
    fire: [
      {
        series: [
          s(`rabbitmq_identity_info{${RMQ}, rabbitmq_node="rabbit@a"}`, "1x10"),
          s(
            `rabbitmq_identity_info{job="rabbitmq", instance="rabbit-1:15692", rabbitmq_node="rabbit@b"}`,
            "1x10",
          ),
        ],
        evalTime: "5m",
        alerts: [
          {
            labels: {},
            description:
              "2 of 3 broker nodes answer; quorum queues lose their majority if more nodes go.",
          },
        ],
      },
      {
        // Every node gone: no identity series at all still fires (vector(0)).
        series: [s('up{job="rabbitmq", instance="rabbit-0:15692"}', "0x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: {},
            description:
              "0 of 3 broker nodes answer; quorum queues lose their majority if more nodes go.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [0, 1, 2].map((i) =>
          s(`rabbitmq_identity_info{job="rabbitmq", instance="rabbit-${i}:15692"}`, "1x10"),
        ),
        evalTime: "5m",
        alerts: [],
      },
    ],
  },
  RabbitMQMemoryAlarm: {
    fire: [
      {
        series: [s(`rabbitmq_alarms_memory_used_watermark{${RMQ}}`, "0 1x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: RMQ_LABELS,
            description:
              "Node rabbit-0:15692 is above its memory high watermark and blocks every publishing connection.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [s(`rabbitmq_alarms_memory_used_watermark{${RMQ}}`, "0x10")],
        evalTime: "5m",
        alerts: [],
      },
    ],
  },
  RabbitMQDiskAlarm: {
    fire: [
      {
        series: [s(`rabbitmq_alarms_free_disk_space_watermark{${RMQ}}`, "0 1x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: RMQ_LABELS,
            description:
              "Node rabbit-0:15692 has less free disk than its limit and blocks every publishing connection.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [s(`rabbitmq_alarms_free_disk_space_watermark{${RMQ}}`, "0x10")],
        evalTime: "5m",
        alerts: [],
      },
    ],
  },
  RabbitMQMemoryNearWatermark: {
    fire: [
      {
        series: [
          s(`rabbitmq_process_resident_memory_bytes{${RMQ}}`, "950x10"),
          s(`rabbitmq_resident_memory_limit_bytes{${RMQ}}`, "1000x10"),
        ],
        evalTime: "10m",
        alerts: [
          { labels: RMQ_LABELS, description: "Node rabbit-0:15692 uses 95% of its memory limit." },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`rabbitmq_process_resident_memory_bytes{${RMQ}}`, "800x10"),
          s(`rabbitmq_resident_memory_limit_bytes{${RMQ}}`, "1000x10"),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  RabbitMQFileDescriptorsNearLimit: {
    fire: [
      {
        series: [
          s(`rabbitmq_process_open_fds{${RMQ}}`, "900x10"),
          s(`rabbitmq_process_max_fds{${RMQ}}`, "1000x10"),
        ],
        evalTime: "10m",
        alerts: [
          {
            labels: RMQ_LABELS,
            description:
              "Node rabbit-0:15692 uses 90% of its file descriptors; new connections will be refused at the limit.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`rabbitmq_process_open_fds{${RMQ}}`, "100x10"),
          s(`rabbitmq_process_max_fds{${RMQ}}`, "1000x10"),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  PublishNacks: {
    fire: [
      {
        series: [
          s(
            `rabbitmq_global_messages_received_confirm_total{${RMQ}, protocol="amqp091"}`,
            "0+120x20",
          ),
          s(`rabbitmq_global_messages_confirmed_total{${RMQ}, protocol="amqp091"}`, "0+114x20"),
        ],
        evalTime: "15m",
        alerts: [
          {
            labels: { instance: "rabbit-0:15692" },
            description:
              "5% of confirm-mode publishes to rabbit-0:15692 were not confirmed (nacked, e.g. by reject-publish overflow).",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(
            `rabbitmq_global_messages_received_confirm_total{${RMQ}, protocol="amqp091"}`,
            "0+120x20",
          ),
          s(`rabbitmq_global_messages_confirmed_total{${RMQ}, protocol="amqp091"}`, "0+120x20"),
        ],
        evalTime: "15m",
        alerts: [],
      },
      {
        // No confirm-mode traffic at all (0/0) must not fire.
        series: [
          s(`rabbitmq_global_messages_received_confirm_total{${RMQ}, protocol="amqp091"}`, "0x20"),
          s(`rabbitmq_global_messages_confirmed_total{${RMQ}, protocol="amqp091"}`, "0x20"),
        ],
        evalTime: "15m",
        alerts: [],
      },
    ],
  },
  PublishesUnroutable: {
    fire: [
      {
        series: [
          s(
            `rabbitmq_global_messages_unroutable_dropped_total{${RMQ}, protocol="amqp091"}`,
            "0+60x20",
          ),
          s(
            `rabbitmq_global_messages_unroutable_returned_total{${RMQ}, protocol="amqp091"}`,
            "0x20",
          ),
        ],
        evalTime: "15m",
        alerts: [
          {
            labels: { instance: "rabbit-0:15692" },
            description:
              "1 messages per second to rabbit-0:15692 are dropped or returned as unroutable.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(
            `rabbitmq_global_messages_unroutable_dropped_total{${RMQ}, protocol="amqp091"}`,
            "0x20",
          ),
          s(
            `rabbitmq_global_messages_unroutable_returned_total{${RMQ}, protocol="amqp091"}`,
            "0x20",
          ),
        ],
        evalTime: "15m",
        alerts: [],
      },
    ],
  },
  QueueBacklogHigh: {
    fire: [
      {
        series: [s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="default"}`, "60000x10")],
        evalTime: "10m",
        alerts: [
          {
            labels: { vhost: "/", queue: "default" },
            description: "Queue default holds 60000 ready messages (threshold 50000).",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="default"}`, "100x10"),
          // A federation buffer is watched by FederationBacklogHigh, not here.
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="${FEDQ}"}`, "60000x10"),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  QueueBacklogGrowing: {
    fire: [
      {
        series: [
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="high_priority"}`, "0+1000x30"),
        ],
        evalTime: "20m",
        alerts: [
          {
            labels: { vhost: "/", queue: "high_priority" },
            description:
              "Queue high_priority grew by 10000 ready messages in 10 minutes: consumers fall behind.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="high_priority"}`, "60000x30"),
        ],
        evalTime: "20m",
        alerts: [],
      },
    ],
  },
  QueueWithoutConsumers: {
    fire: [
      {
        series: [
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="default"}`, "5x20"),
          s(`rabbitmq_detailed_queue_consumers{${Q}, queue="default"}`, "0x20"),
          // Dead-letter queues hold messages without consumers by design.
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="default.dlq"}`, "5x20"),
          s(`rabbitmq_detailed_queue_consumers{${Q}, queue="default.dlq"}`, "0x20"),
        ],
        evalTime: "15m",
        alerts: [
          {
            labels: { vhost: "/", queue: "default" },
            description: "Queue default holds 5 ready messages and no worker consumes it.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="default"}`, "5x20"),
          s(`rabbitmq_detailed_queue_consumers{${Q}, queue="default"}`, "2x20"),
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="idle"}`, "0x20"),
          s(`rabbitmq_detailed_queue_consumers{${Q}, queue="idle"}`, "0x20"),
          // The runtime's retry delay queues wait without consumers by design.
          s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="taskfleet.delay.0"}`, "18x20"),
          s(`rabbitmq_detailed_queue_consumers{${Q}, queue="taskfleet.delay.0"}`, "0x20"),
        ],
        evalTime: "15m",
        alerts: [],
      },
    ],
  },
  FederationLinkDown: {
    fire: [
      {
        series: [
          s(
            `taskfleet_federation_link_up{${FX}, upstream="eu-west-1", type="queue", name="high_priority", vhost="/", node="rabbit@a"}`,
            "1 1 0x20",
          ),
          s(
            `taskfleet_federation_link_up{${FX}, upstream="ap-southeast-1", type="queue", name="high_priority", vhost="/", node="rabbit@a"}`,
            "1x20",
          ),
        ],
        evalTime: "10m",
        alerts: [
          {
            labels: { upstream: "eu-west-1", type: "queue", name: "high_priority", vhost: "/" },
            description:
              "This region's federation link from eu-west-1 (queue high_priority) is not running: messages from that region do not arrive here.",
          },
        ],
      },
    ],
    quiet: [
      {
        // Down for less than the alert window, then running again.
        series: [
          s(
            `taskfleet_federation_link_up{${FX}, upstream="eu-west-1", type="queue", name="high_priority", vhost="/", node="rabbit@a"}`,
            "0 0 0 1x20",
          ),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  FederationExporterDown: {
    fire: [
      {
        series: [
          s(`up{${FX}}`, "1x10"),
          s(`taskfleet_federation_exporter_scrape_success{${FX}}`, "0x10"),
        ],
        evalTime: "10m",
        alerts: [
          {
            labels: { job: "taskfleet-federation", instance: "fx:9877" },
            description:
              "The federation exporter fx:9877 is down or cannot read the management API, so FederationLinkDown cannot fire.",
          },
        ],
      },
      {
        series: [s(`up{${FX}}`, "0x10")],
        evalTime: "10m",
        alerts: [
          {
            labels: { job: "taskfleet-federation", instance: "fx:9877" },
            description:
              "The federation exporter fx:9877 is down or cannot read the management API, so FederationLinkDown cannot fire.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`up{${FX}}`, "1x10"),
          s(`taskfleet_federation_exporter_scrape_success{${FX}}`, "1x10"),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  FederationPeerLinkDown: {
    fire: [
      {
        series: [s(`rabbitmq_detailed_queue_consumers{${Q}, queue="${FEDQ}"}`, "1 1 0x20")],
        evalTime: "10m",
        alerts: [
          {
            labels: { vhost: "/", queue: FEDQ },
            description: `Upstream queue ${FEDQ} has no consumer: the downstream region's federation link is not connected, so messages for that region wait here.`,
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`rabbitmq_detailed_queue_consumers{${Q}, queue="${FEDQ}"}`, "1x20"),
          // An ordinary queue without consumers is not a federation link.
          s(`rabbitmq_detailed_queue_consumers{${Q}, queue="default"}`, "0x20"),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  FederationBacklogHigh: {
    fire: [
      {
        series: [s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="${FEDQ}"}`, "20000x20")],
        evalTime: "15m",
        alerts: [
          {
            labels: { vhost: "/", queue: FEDQ },
            description: `Upstream queue ${FEDQ} buffers 20000 messages for another region (threshold 10000).`,
          },
        ],
      },
    ],
    quiet: [
      {
        series: [s(`rabbitmq_detailed_queue_messages_ready{${Q}, queue="${FEDQ}"}`, "5000x20")],
        evalTime: "15m",
        alerts: [],
      },
    ],
  },
  WorkerScrapeMissing: {
    fire: [
      {
        series: [s(`up{${WK(1)}}`, "1 0x10"), s(`up{${WK(2)}}`, "1x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: { job: "taskfleet-workers", instance: "worker-1:9808" },
            description:
              "Worker worker-1:9808 has not served /metrics (its heartbeat) for the alert window.",
          },
        ],
      },
    ],
    quiet: [{ series: [s(`up{${WK(1)}}`, "1x10")], evalTime: "5m", alerts: [] }],
  },
  WorkersAbsent: {
    fire: [
      {
        series: [s(`up{${RMQ}}`, "1x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: {},
            description:
              "No taskfleet worker target answers in this region; tasks are not being processed.",
          },
        ],
      },
      {
        series: [s(`up{${WK(1)}}`, "0x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: {},
            description:
              "No taskfleet worker target answers in this region; tasks are not being processed.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [s(`up{${WK(1)}}`, "0x10"), s(`up{${WK(2)}}`, "1x10")],
        evalTime: "5m",
        alerts: [],
      },
    ],
  },
  WorkerNotReady: {
    fire: [
      {
        series: [s(`taskfleet_worker_ready{${WK(1)}}`, "0x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: { job: "taskfleet-workers", instance: "worker-1:9808" },
            description:
              "Worker worker-1:9808 answers but reports taskfleet_worker_ready 0 (not consuming).",
          },
        ],
      },
    ],
    quiet: [
      { series: [s(`taskfleet_worker_ready{${WK(1)}}`, "1x10")], evalTime: "5m", alerts: [] },
    ],
  },
  TaskFailureRateHigh: {
    fire: [
      {
        series: [
          s(`taskfleet_tasks_received_total{${WK(1)}, queue="default"}`, "0+600x30"),
          s(`taskfleet_tasks_failed_total{${WK(1)}, queue="default"}`, "0+60x30"),
        ],
        evalTime: "20m",
        alerts: [
          { labels: { queue: "default" }, description: "10% of tasks from queue default fail." },
        ],
      },
      {
        // The runtime's counters today carry no queue label: the rule still works, region-wide.
        series: [
          s(`taskfleet_tasks_received_total{${WK(1)}}`, "0+600x30"),
          s(`taskfleet_tasks_received_total{${WK(2)}}`, "0+600x30"),
          s(`taskfleet_tasks_failed_total{${WK(1)}}`, "0+120x30"),
          s(`taskfleet_tasks_failed_total{${WK(2)}}`, "0+120x30"),
        ],
        evalTime: "20m",
        alerts: [{ labels: {}, description: "20% of tasks fail." }],
      },
    ],
    quiet: [
      {
        series: [
          s(`taskfleet_tasks_received_total{${WK(1)}, queue="default"}`, "0+600x30"),
          s(`taskfleet_tasks_failed_total{${WK(1)}, queue="default"}`, "0+6x30"),
        ],
        evalTime: "20m",
        alerts: [],
      },
    ],
  },
  TaskRetryRateHigh: {
    fire: [
      {
        series: [
          s(`taskfleet_tasks_received_total{${WK(1)}, queue="default"}`, "0+600x30"),
          s(`taskfleet_tasks_retried_total{${WK(1)}, queue="default"}`, "0+180x30"),
        ],
        evalTime: "20m",
        alerts: [
          {
            labels: { queue: "default" },
            description: "30% of tasks from queue default are retried.",
          },
        ],
      },
      {
        series: [
          s(`taskfleet_tasks_received_total{${WK(1)}}`, "0+600x30"),
          s(`taskfleet_tasks_retried_total{${WK(1)}}`, "0+300x30"),
        ],
        evalTime: "20m",
        alerts: [{ labels: {}, description: "50% of tasks are retried." }],
      },
    ],
    quiet: [
      {
        series: [
          s(`taskfleet_tasks_received_total{${WK(1)}, queue="default"}`, "0+600x30"),
          s(`taskfleet_tasks_retried_total{${WK(1)}, queue="default"}`, "0+60x30"),
        ],
        evalTime: "20m",
        alerts: [],
      },
    ],
  },
  TaskRuntimeP95High: {
    fire: [
      {
        series: [
          s(`taskfleet_task_runtime_seconds_bucket{${WK(1)}, queue="default", le="60"}`, "0x30"),
          s(`taskfleet_task_runtime_seconds_bucket{${WK(1)}, queue="default", le="300"}`, "0x30"),
          s(
            `taskfleet_task_runtime_seconds_bucket{${WK(1)}, queue="default", le="600"}`,
            "0+60x30",
          ),
          s(
            `taskfleet_task_runtime_seconds_bucket{${WK(1)}, queue="default", le="+Inf"}`,
            "0+60x30",
          ),
        ],
        evalTime: "25m",
        alerts: [
          {
            labels: { queue: "default" },
            description: "95% of tasks from queue default finish within 585 s (threshold 300 s).",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`taskfleet_task_runtime_seconds_bucket{${WK(1)}, queue="default", le="60"}`, "0+60x30"),
          s(
            `taskfleet_task_runtime_seconds_bucket{${WK(1)}, queue="default", le="300"}`,
            "0+60x30",
          ),
          s(
            `taskfleet_task_runtime_seconds_bucket{${WK(1)}, queue="default", le="600"}`,
            "0+60x30",
          ),
          s(
            `taskfleet_task_runtime_seconds_bucket{${WK(1)}, queue="default", le="+Inf"}`,
            "0+60x30",
          ),
        ],
        evalTime: "25m",
        alerts: [],
      },
    ],
  },
  WorkersSaturated: {
    fire: [
      {
        series: [
          s(`taskfleet_tasks_in_flight{${WK(1)}}`, "10x30"),
          s(`taskfleet_tasks_in_flight{${WK(2)}}`, "9x30"),
          s(`taskfleet_worker_concurrency{${WK(1)}}`, "10x30"),
          s(`taskfleet_worker_concurrency{${WK(2)}}`, "10x30"),
        ],
        evalTime: "20m",
        alerts: [
          {
            labels: {},
            description:
              "95% of worker concurrency is busy; add workers or raise the autoscaling maximum.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`taskfleet_tasks_in_flight{${WK(1)}}`, "5x30"),
          s(`taskfleet_worker_concurrency{${WK(1)}}`, "10x30"),
        ],
        evalTime: "20m",
        alerts: [],
      },
    ],
  },
  TaskApiDown: {
    fire: [
      {
        series: [s('up{job="taskfleet-api", instance="api-0:8080"}', "0x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: { job: "taskfleet-api", instance: "api-0:8080" },
            description: "Task API api-0:8080 has not served /metrics for the alert window.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [s('up{job="taskfleet-api", instance="api-0:8080"}', "1x10")],
        evalTime: "5m",
        alerts: [],
      },
    ],
  },
  RedisDown: {
    fire: [
      {
        series: [s(`redis_up{${RD}}`, "0x10"), s(`up{${RD}}`, "1x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: RD_LABELS,
            description:
              "redis_exporter redis-exporter:9121 cannot reach Redis, or is itself down; task results are not stored.",
          },
        ],
      },
      {
        series: [s(`up{${RD}}`, "0x10")],
        evalTime: "5m",
        alerts: [
          {
            labels: RD_LABELS,
            description:
              "redis_exporter redis-exporter:9121 cannot reach Redis, or is itself down; task results are not stored.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [s(`redis_up{${RD}}`, "1x10"), s(`up{${RD}}`, "1x10")],
        evalTime: "5m",
        alerts: [],
      },
    ],
  },
  RedisMemoryHigh: {
    fire: [
      {
        series: [
          s(`redis_memory_used_bytes{${RD}}`, "900x10"),
          s(`redis_memory_max_bytes{${RD}}`, "1000x10"),
        ],
        evalTime: "10m",
        alerts: [
          { labels: RD_LABELS, description: "Redis redis-exporter:9121 uses 90% of maxmemory." },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`redis_memory_used_bytes{${RD}}`, "100x10"),
          s(`redis_memory_max_bytes{${RD}}`, "1000x10"),
        ],
        evalTime: "10m",
        alerts: [],
      },
      {
        // No maxmemory set (0) must not divide into +Inf and fire.
        series: [
          s(`redis_memory_used_bytes{${RD}}`, "900x10"),
          s(`redis_memory_max_bytes{${RD}}`, "0x10"),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  RedisLatencyHigh: {
    fire: [
      {
        series: [
          s(`redis_commands_duration_seconds_total{${RD}, cmd="setex"}`, "0+0.12x30"),
          s(`redis_commands_total{${RD}, cmd="setex"}`, "0+60x30"),
        ],
        evalTime: "20m",
        alerts: [
          {
            labels: { instance: "redis-exporter:9121" },
            description:
              "Redis redis-exporter:9121 spends 2ms per command on average (threshold 1000 µs).",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`redis_commands_duration_seconds_total{${RD}, cmd="setex"}`, "0+0.03x30"),
          s(`redis_commands_total{${RD}, cmd="setex"}`, "0+60x30"),
        ],
        evalTime: "20m",
        alerts: [],
      },
    ],
  },
  RedisEvictingKeys: {
    fire: [
      {
        series: [s(`redis_evicted_keys_total{${RD}}`, "0+60x20")],
        evalTime: "15m",
        alerts: [
          {
            labels: RD_LABELS,
            description:
              "Redis redis-exporter:9121 evicts 1 keys per second: task results are being lost before they expire.",
          },
        ],
      },
    ],
    quiet: [
      { series: [s(`redis_evicted_keys_total{${RD}}`, "5x20")], evalTime: "15m", alerts: [] },
    ],
  },
};
