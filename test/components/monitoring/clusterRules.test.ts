/**
 * The rule groups and scrape jobs beyond the task system's own: per-pool worker rules, the
 * Kubernetes cluster (nodes, disks, persistent volumes), Alertmanager itself; static targets with
 * labels, pod labels copied to series, and the kubelet job. Exact expressions and messages.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  alertNames,
  generateAlertRules,
  referencedMetrics,
} from "../../../components/monitoring/alertRules.js";
import { NodeExporter } from "../../../local/services/prometheusExporters.js";
import { tempDir } from "../../support/tmp.js";
import { generatePrometheusConfig } from "../../../components/monitoring/scrapeConfig.js";
import { resolveThresholds } from "../../../components/monitoring/thresholds.js";

const base = {
  rabbitmq: { kind: "static" as const, targets: ["127.0.0.1:15692"] },
  workers: { kind: "static" as const, targets: [] },
  api: { kind: "static" as const, targets: ["127.0.0.1:8080"] },
};

describe("rule groups", () => {
  it("adds one WorkerPoolDown per pool, labelled with the pool", () => {
    const file = generateAlertRules({ expectedBrokerNodes: 3, workerPools: ["default", "bulk"] });
    const pools = file.groups.flatMap((g) => g.rules).filter((r) => r.alert === "WorkerPoolDown");
    expect(pools.map((r) => [r.expr, r.labels.pool, r.labels.severity])).toEqual([
      ['absent(up{job="taskfleet-workers", pool="default"} == 1)', "default", "critical"],
      ['absent(up{job="taskfleet-workers", pool="bulk"} == 1)', "bulk", "critical"],
    ]);
    expect(generateAlertRules({ expectedBrokerNodes: 3 }).groups.map((g) => g.name)).toEqual([
      "taskfleet-broker",
      "taskfleet-queues",
      "taskfleet-workers",
      "taskfleet-storage",
    ]);
  });

  it("adds the cluster and alerting groups when asked", () => {
    const file = generateAlertRules({
      expectedBrokerNodes: 3,
      cluster: true,
      alertmanagerReplicas: 2,
      thresholds: { pvcFreeWarningRatio: 0.2 },
    });
    expect(file.groups.slice(4).map((g) => [g.name, g.rules.map((r) => r.alert)])).toEqual([
      [
        "taskfleet-cluster",
        [
          "KubeNodeNotReady",
          "KubeNodePressure",
          "NodeFilesystemAlmostFull",
          "NodeMemoryHigh",
          "PersistentVolumeAlmostFull",
          "PersistentVolumeFull",
          "PersistentVolumeClaimPending",
          "KubeStateMetricsDown",
          "NodeExporterDown",
          "KubeletScrapeFailing",
        ],
      ],
      [
        "taskfleet-alerting",
        ["AlertmanagerDown", "AlertmanagerClusterDegraded", "AlertmanagerNotificationsFailing"],
      ],
    ]);
    const byName = new Map(file.groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
    expect(byName.get("PersistentVolumeAlmostFull")!.expr).toBe(
      'max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_available_bytes{job="kubelet"} / kubelet_volume_stats_capacity_bytes{job="kubelet"}) < 0.2',
    );
    expect(byName.get("KubeNodePressure")!.expr).toBe(
      'max by (node, condition) (kube_node_status_condition{job="kube-state-metrics", condition=~"MemoryPressure|DiskPressure|PIDPressure", status="true"}) == 1',
    );
    expect(byName.get("AlertmanagerClusterDegraded")!.expr).toBe(
      'max by (instance) (alertmanager_cluster_members{job="alertmanager"}) < 2',
    );
    // One replica has no cluster to degrade.
    const single = generateAlertRules({ expectedBrokerNodes: 3, alertmanagerReplicas: 1 });
    expect(alertNames(single)).not.toContain("AlertmanagerClusterDegraded");
    expect(alertNames(single)).toContain("AlertmanagerNotificationsFailing");
  });

  it("rejects bad input naming the field", () => {
    expect(() => generateAlertRules({ expectedBrokerNodes: 3, workerPools: ["a b"] })).toThrow(
      'workerPools[0]: "a b" is not a pool name; use letters, digits, "_", "-" and "."',
    );
    expect(() => generateAlertRules({ expectedBrokerNodes: 3, alertmanagerReplicas: 0 })).toThrow(
      "alertmanagerReplicas: 0 is not allowed; use a whole number from 1 to 5",
    );
    expect(() =>
      resolveThresholds({ pvcFreeWarningRatio: 0.1, pvcFreeCriticalRatio: 0.1 }),
    ).toThrow(
      "thresholds.pvcFreeCriticalRatio: 0.1 is not below pvcFreeWarningRatio (0.1); the page must come after the warning",
    );
  });
});

describe("scrape jobs", () => {
  it("labels static target groups (the local target's pools)", () => {
    const cfg = generatePrometheusConfig({
      region: "local-a",
      targets: {
        ...base,
        workers: {
          kind: "static",
          targets: [],
          groups: [
            { targets: ["127.0.0.1:20001"], labels: { pool: "default" } },
            { targets: ["127.0.0.1:20002"], labels: { pool: "high_priority" } },
          ],
        },
        alertmanager: { kind: "static", targets: ["127.0.0.1:9093"] },
      },
    });
    const job = (n: string) => cfg.scrape_configs.find((j) => j.job_name === n)!;
    expect(job("taskfleet-workers").static_configs).toEqual([
      { targets: ["127.0.0.1:20001"], labels: { pool: "default" } },
      { targets: ["127.0.0.1:20002"], labels: { pool: "high_priority" } },
    ]);
    expect(job("alertmanager").static_configs).toEqual([{ targets: ["127.0.0.1:9093"] }]);
  });

  it("copies pod labels to series and reads every kubelet with the service account", () => {
    const cfg = generatePrometheusConfig({
      region: "eu-west-1",
      targets: {
        ...base,
        workers: {
          kind: "kubernetesPods",
          namespace: "taskfleet",
          podLabels: { "app.kubernetes.io/component": "worker" },
          port: 8080,
          targetLabels: { pool: "taskfleet.io/worker-pool" },
        },
        kubelet: true,
      },
    });
    const workers = cfg.scrape_configs.find((j) => j.job_name === "taskfleet-workers")!;
    expect(workers.relabel_configs!.at(-1)).toEqual({
      source_labels: ["__meta_kubernetes_pod_label_taskfleet_io_worker_pool"],
      target_label: "pool",
      action: "replace",
    });
    expect(cfg.scrape_configs.find((j) => j.job_name === "kubelet")).toEqual({
      job_name: "kubelet",
      metrics_path: "/metrics",
      scheme: "https",
      tls_config: { ca_file: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" },
      authorization: { credentials_file: "/var/run/secrets/kubernetes.io/serviceaccount/token" },
      kubernetes_sd_configs: [{ role: "node" }],
      relabel_configs: [
        { source_labels: ["__meta_kubernetes_node_name"], target_label: "node", action: "replace" },
      ],
      metric_relabel_configs: [
        { source_labels: ["__name__"], regex: "kubelet_volume_stats_.*", action: "keep" },
      ],
    });
  });

  it("rejects bad labels naming the field", () => {
    expect(() =>
      generatePrometheusConfig({
        region: "x",
        targets: {
          ...base,
          workers: {
            kind: "static",
            targets: [],
            groups: [{ targets: ["127.0.0.1:1"], labels: { "pool-name": "a" } }],
          },
        },
      }),
    ).toThrow('targets.workers.groups[0].labels: "pool-name" is not a Prometheus label name');
    expect(() =>
      generatePrometheusConfig({
        region: "x",
        targets: {
          ...base,
          workers: {
            kind: "kubernetesPods",
            namespace: "taskfleet",
            podLabels: { a: "b" },
            port: 1,
            targetLabels: { pool: "not a key" },
          },
        },
      }),
    ).toThrow('targets.workers.targetLabels.pool: "not a key" is not a Kubernetes label key');
  });
});

describe("node-exporter names (a real node-exporter 1.5)", () => {
  it("serves every node_* metric the cluster rules use, with the labels they select on", async () => {
    const dir = tempDir("taskfleet-node-exporter-");
    const ne = new NodeExporter({ dir: join(dir.path, "ne") });
    try {
      await ne.start();
      const text = await (await fetch(`${ne.url}/metrics`)).text();
      const rules = generateAlertRules({ expectedBrokerNodes: 3, cluster: true });
      const used = referencedMetrics(rules).filter((m) => m.startsWith("node_"));
      expect(used).toHaveLength(5);
      const served = new Set(
        text.split("\n").map((l) => /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(l)?.[1]),
      );
      expect(used.filter((m) => !served.has(m))).toEqual([]);
      expect(text).toMatch(
        /^node_filesystem_avail_bytes\{device="[^"]*",fstype="[^"]*",mountpoint="[^"]*"\}/m,
      );
    } finally {
      await ne.stop();
      dir.cleanup();
    }
  });
});
