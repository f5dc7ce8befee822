/**
 * `promtool test rules` cases for the rules beyond the task system's own: a broker node down, a
 * worker pool down (rules generated with `workerPools: ["default"]`), the Kubernetes cluster
 * (`cluster: true`) and Alertmanager (`alertmanagerReplicas: 2`). Same shape as promtoolCases.ts.
 */
import type { AlertCases, Series } from "./promtoolCases.js";

const s = (series: string, values: string): Series => ({ series, values });
const KSM = 'job="kube-state-metrics", instance="10.0.2.9:8080"';
const NODE = "ip-10-0-1-17.ec2.internal";
const NE = `job="node-exporter", instance="10.0.1.17:9100", node="${NODE}"`;
const KL = `job="kubelet", instance="10.0.1.17:10250", node="${NODE}"`;
const PVC = 'namespace="taskfleet", persistentvolumeclaim="data-tf-broker-0"';
const AM = 'job="alertmanager", instance="tf-alertmanager-0:9093"';
const ROOT_FS = 'device="/dev/nvme0n1p1", fstype="xfs", mountpoint="/"';

const nodeFs = (avail: string, extra = ROOT_FS, readonly = "0x20"): Series[] => [
  s(`node_filesystem_avail_bytes{${NE}, ${extra}}`, avail),
  s(`node_filesystem_size_bytes{${NE}, ${extra}}`, "100x20"),
  s(`node_filesystem_readonly{${NE}, ${extra}}`, readonly),
];
const volume = (avail: string): Series[] => [
  s(`kubelet_volume_stats_available_bytes{${KL}, ${PVC}}`, avail),
  s(`kubelet_volume_stats_capacity_bytes{${KL}, ${PVC}}`, "100x20"),
];

export const PROMTOOL_CLUSTER_CASES: Record<string, AlertCases> = {
  RabbitMQNodeDown: {
    fire: [
      {
        series: [
          s('up{job="rabbitmq", instance="rabbit-0:15692"}', "1 0x10"),
          s('up{job="rabbitmq", instance="rabbit-1:15692"}', "1x10"),
        ],
        evalTime: "5m",
        alerts: [
          {
            labels: { job: "rabbitmq", instance: "rabbit-0:15692" },
            description:
              "Broker node rabbit-0:15692 does not serve its metrics: it is down, restarting or unreachable.",
          },
        ],
      },
    ],
    quiet: [
      {
        // A restart shorter than the alert window.
        series: [s('up{job="rabbitmq", instance="rabbit-0:15692"}', "1 0 1x10")],
        evalTime: "5m",
        alerts: [],
      },
    ],
  },
  WorkerPoolDown: {
    fire: [
      {
        series: [
          s('up{job="taskfleet-workers", instance="w-1:8080", pool="default"}', "1 0x10"),
          s('up{job="taskfleet-workers", instance="w-2:8080", pool="default"}', "1 0x10"),
          s('up{job="taskfleet-workers", instance="w-3:8080", pool="high_priority"}', "1x10"),
        ],
        evalTime: "5m",
        alerts: [
          {
            labels: { pool: "default" },
            description:
              "No worker of pool default answers: its queues are not consumed in this region.",
          },
        ],
      },
      {
        // The pool's pods never started (no target at all, as with pods stuck Pending).
        series: [
          s('up{job="taskfleet-workers", instance="w-3:8080", pool="high_priority"}', "1x10"),
        ],
        evalTime: "5m",
        alerts: [
          {
            labels: { pool: "default" },
            description:
              "No worker of pool default answers: its queues are not consumed in this region.",
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s('up{job="taskfleet-workers", instance="w-1:8080", pool="default"}', "0x10"),
          s('up{job="taskfleet-workers", instance="w-2:8080", pool="default"}', "1x10"),
        ],
        evalTime: "5m",
        alerts: [],
      },
    ],
  },
  KubeNodeNotReady: {
    fire: [
      {
        series: [
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="Ready", status="true"}`,
            "1 1 0x10",
          ),
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="Ready", status="false"}`,
            "0 0 1x10",
          ),
        ],
        evalTime: "10m",
        alerts: [
          {
            labels: { node: NODE },
            description: `Node ${NODE} is not Ready: its pods are unreachable or being evicted, and nothing new is scheduled there.`,
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="Ready", status="true"}`,
            "1x10",
          ),
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="Ready", status="false"}`,
            "0x10",
          ),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  KubeNodePressure: {
    fire: [
      {
        series: [
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="DiskPressure", status="true"}`,
            "0 1x10",
          ),
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="DiskPressure", status="false"}`,
            "1 0x10",
          ),
        ],
        evalTime: "10m",
        alerts: [
          {
            labels: { node: NODE, condition: "DiskPressure" },
            description: `Node ${NODE} reports DiskPressure: the kubelet evicts pods and admits no new ones.`,
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="MemoryPressure", status="true"}`,
            "0x10",
          ),
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="MemoryPressure", status="false"}`,
            "1x10",
          ),
          // Ready is not a pressure condition.
          s(
            `kube_node_status_condition{${KSM}, node="${NODE}", condition="Ready", status="true"}`,
            "1x10",
          ),
        ],
        evalTime: "10m",
        alerts: [],
      },
    ],
  },
  NodeFilesystemAlmostFull: {
    fire: [
      {
        series: nodeFs("5x20"),
        evalTime: "15m",
        alerts: [
          {
            labels: { instance: "10.0.1.17:9100", node: NODE, mountpoint: "/" },
            description: `Filesystem / on node ${NODE} has 5% free; at the kubelet's eviction threshold pods are evicted.`,
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          ...nodeFs("50x20"),
          // Memory-backed and read-only filesystems are full by nature.
          ...nodeFs("1x20", 'device="tmpfs", fstype="tmpfs", mountpoint="/run"'),
          ...nodeFs("1x20", 'device="/dev/nvme1n1", fstype="ext4", mountpoint="/ro"', "1x20"),
        ],
        evalTime: "15m",
        alerts: [],
      },
    ],
  },
  NodeMemoryHigh: {
    fire: [
      {
        series: [
          s(`node_memory_MemAvailable_bytes{${NE}}`, "5x30"),
          s(`node_memory_MemTotal_bytes{${NE}}`, "100x30"),
        ],
        evalTime: "20m",
        alerts: [
          {
            labels: { instance: "10.0.1.17:9100", node: NODE },
            description: `Node ${NODE} uses 95% of its memory; the kernel's OOM killer or the kubelet's evictions come next.`,
          },
        ],
      },
    ],
    quiet: [
      {
        series: [
          s(`node_memory_MemAvailable_bytes{${NE}}`, "50x30"),
          s(`node_memory_MemTotal_bytes{${NE}}`, "100x30"),
        ],
        evalTime: "20m",
        alerts: [],
      },
    ],
  },
  PersistentVolumeAlmostFull: {
    fire: [
      {
        series: volume("10x20"),
        evalTime: "10m",
        alerts: [
          {
            labels: { namespace: "taskfleet", persistentvolumeclaim: "data-tf-broker-0" },
            description: "Volume taskfleet/data-tf-broker-0 has 10% free.",
          },
        ],
      },
    ],
    quiet: [{ series: volume("50x20"), evalTime: "10m", alerts: [] }],
  },
  PersistentVolumeFull: {
    fire: [
      {
        series: volume("3x20"),
        evalTime: "10m",
        alerts: [
          {
            labels: { namespace: "taskfleet", persistentvolumeclaim: "data-tf-broker-0" },
            description:
              "Volume taskfleet/data-tf-broker-0 has 3% free: its broker node or Prometheus stops writing soon.",
          },
        ],
      },
    ],
    // Only the warning's range: no page yet.
    quiet: [{ series: volume("10x20"), evalTime: "10m", alerts: [] }],
  },
  PersistentVolumeClaimPending: {
    fire: [
      {
        series: [
          s(`kube_persistentvolumeclaim_status_phase{${KSM}, ${PVC}, phase="Pending"}`, "1x30"),
          s(`kube_persistentvolumeclaim_status_phase{${KSM}, ${PVC}, phase="Bound"}`, "0x30"),
        ],
        evalTime: "20m",
        alerts: [
          {
            labels: {
              namespace: "taskfleet",
              persistentvolumeclaim: "data-tf-broker-0",
              phase: "Pending",
            },
            description:
              "Claim taskfleet/data-tf-broker-0 is Pending: the pod that needs it cannot start.",
          },
        ],
      },
    ],
    quiet: [
      {
        // Bound after a few minutes (a new volume being provisioned).
        series: [
          s(`kube_persistentvolumeclaim_status_phase{${KSM}, ${PVC}, phase="Pending"}`, "1x5 0x25"),
          s(`kube_persistentvolumeclaim_status_phase{${KSM}, ${PVC}, phase="Bound"}`, "0x5 1x25"),
        ],
        evalTime: "20m",
        alerts: [],
      },
    ],
  },
  KubeStateMetricsDown: {
    fire: [
      {
        series: [s(`up{${KSM}}`, "0x10")],
        evalTime: "10m",
        alerts: [
          {
            labels: {},
            description:
              "kube-state-metrics does not answer: node and persistent volume claim alerts cannot fire.",
          },
        ],
      },
    ],
    quiet: [{ series: [s(`up{${KSM}}`, "1x10")], evalTime: "10m", alerts: [] }],
  },
  NodeExporterDown: {
    fire: [
      {
        series: [s(`up{${NE}}`, "0x10")],
        evalTime: "10m",
        alerts: [
          {
            labels: { job: "node-exporter", instance: "10.0.1.17:9100", node: NODE },
            description:
              "node-exporter 10.0.1.17:9100 does not answer: that node's disk and memory alerts cannot fire.",
          },
        ],
      },
    ],
    quiet: [{ series: [s(`up{${NE}}`, "1x10")], evalTime: "10m", alerts: [] }],
  },
  KubeletScrapeFailing: {
    fire: [
      {
        series: [s(`up{${KL}}`, "0x10")],
        evalTime: "10m",
        alerts: [
          {
            labels: { job: "kubelet", instance: "10.0.1.17:10250", node: NODE },
            description: `The kubelet of node ${NODE} does not answer Prometheus: volume alerts for its pods cannot fire.`,
          },
        ],
      },
    ],
    quiet: [{ series: [s(`up{${KL}}`, "1x10")], evalTime: "10m", alerts: [] }],
  },
  AlertmanagerDown: {
    fire: [
      {
        series: [s(`up{${AM}}`, "0x10")],
        evalTime: "10m",
        alerts: [
          {
            labels: { job: "alertmanager", instance: "tf-alertmanager-0:9093" },
            description:
              "Alertmanager tf-alertmanager-0:9093 does not answer; the other replicas still notify, but one more loss and no alert reaches anyone.",
          },
        ],
      },
    ],
    quiet: [{ series: [s(`up{${AM}}`, "1x10")], evalTime: "10m", alerts: [] }],
  },
  AlertmanagerClusterDegraded: {
    fire: [
      {
        series: [s(`alertmanager_cluster_members{${AM}}`, "1x20")],
        evalTime: "15m",
        alerts: [
          {
            labels: { instance: "tf-alertmanager-0:9093" },
            description:
              "Alertmanager tf-alertmanager-0:9093 sees 1 of 2 replicas: notifications may be sent twice and silences may not reach every replica.",
          },
        ],
      },
    ],
    quiet: [
      { series: [s(`alertmanager_cluster_members{${AM}}`, "2x20")], evalTime: "15m", alerts: [] },
    ],
  },
  AlertmanagerNotificationsFailing: {
    fire: [
      {
        series: [
          s(`alertmanager_notifications_failed_total{${AM}, integration="slack"}`, "0+6x20"),
          s(`alertmanager_notifications_failed_total{${AM}, integration="pagerduty"}`, "0x20"),
        ],
        evalTime: "15m",
        alerts: [
          {
            labels: { instance: "tf-alertmanager-0:9093", integration: "slack" },
            description:
              "Alertmanager tf-alertmanager-0:9093 fails to deliver to slack: check the receiver's credentials and reachability.",
          },
        ],
      },
    ],
    quiet: [
      {
        // Failures long ago (a counter that no longer grows).
        series: [s(`alertmanager_notifications_failed_total{${AM}, integration="slack"}`, "3x20")],
        evalTime: "15m",
        alerts: [],
      },
    ],
  },
};
