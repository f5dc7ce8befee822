/**
 * The cloud target's alerting path under Pulumi's mocks: the Monitoring component with `alerting`
 * and `clusterMetrics` places a clustered Alertmanager (the generated config, the receivers' keys
 * in a Secret as Pulumi secrets), kube-state-metrics and node-exporter (least privilege, their own
 * Pod Security level), and points Prometheus at exactly those replicas and exporters. Then the
 * shipped prod stack's plan: its Alertmanager config passes `amtool check-config` and routes by
 * severity to PagerDuty and Slack.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planAlertmanager } from "../../../components/monitoring/alertmanagerManifests.js";
import { clusterMetricsObjects } from "../../../components/monitoring/clusterMetricsManifests.js";
import { planStack, readStackFile } from "../../../cli/plan.js";
import { installMocks } from "../../../cli/planEngine.js";
import { tempDir } from "../../support/tmp.js";
import { at, find, mocked, ofType, type RecordedResource } from "../support.js";

const execFileP = promisify(execFile);
const SS = "kubernetes:apps/v1:StatefulSet";
const CM = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";
const DS = "kubernetes:apps/v1:DaemonSet";
const NS = "kubernetes:core/v1:Namespace";
const CR = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";

const ARGS = {
  namespace: "taskfleet",
  region: "eu-west-1",
  expectedBrokerNodes: 3,
  brokers: { namespace: "taskfleet" },
  workers: { namespace: "taskfleet" },
  api: { namespace: "taskfleet" },
  workerPools: ["high_priority"],
  alerting: {
    channels: { pagerduty: true, slack: { channel: "#tf-alerts" } },
    secrets: {
      slackWebhookUrl: "https://hooks.slack.com/services/T/B/x",
      pagerdutyRoutingKey: "pd-key",
    },
  },
  clusterMetrics: { nodeExporterNamespace: "taskfleet-node-metrics" },
};

describe("Monitoring with alerting and cluster metrics (mocks)", () => {
  let res: RecordedResource[];
  let promConfig: {
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    scrape_configs: {
      job_name: string;
      static_configs?: { targets: string[] }[];
      relabel_configs?: unknown[];
    }[];
  };
  let rules: {
    groups: { name: string; rules: { alert: string; labels: Record<string, string> }[] }[];
  };
  beforeAll(async () => {
    const engine = await mocked();
    const { Monitoring } = await import("../../../components/monitoring/monitoring.js");
    new Monitoring("tf-mon", ARGS);
    await engine.settle();
    res = engine.resources;
    const data = (name: string) => at(find(res, CM, name).inputs, "data") as Record<string, string>;
    promConfig = JSON.parse(data("tf-mon-prometheus-config")["prometheus.yml"]!);
    rules = JSON.parse(data("tf-mon-prometheus-rules")["taskfleet-alerts.yml"]!);
  });

  it("places the Alertmanager and cluster exporters as child components", () => {
    const children = res
      .filter((r) => r.parent === "tf-mon" && r.type.startsWith("taskfleet:"))
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    expect(children).toEqual([
      "taskfleet:monitoring:Alertmanager tf-mon-alertmanager",
      "taskfleet:monitoring:ClusterMetrics tf-mon-cluster",
    ]);
    const am = res
      .filter((r) => r.parent === "tf-mon-alertmanager")
      .map((r) => `${r.type} ${r.name}`);
    expect(am.sort()).toEqual(
      [
        `${SECRET} tf-mon-alertmanager-receivers`,
        "kubernetes:core/v1:ServiceAccount tf-mon-alertmanager-sa",
        `${CM} tf-mon-alertmanager-config`,
        "kubernetes:core/v1:Service tf-mon-alertmanager-svc",
        `${SS} tf-mon-alertmanager`,
        "kubernetes:policy/v1:PodDisruptionBudget tf-mon-alertmanager-pdb",
      ].sort(),
    );
  });

  it("runs two gossiping replicas with the generated config and the keys as files from a Secret", () => {
    const plan = planAlertmanager({
      name: "tf-mon-alertmanager",
      namespace: "taskfleet",
      channels: ARGS.alerting.channels,
    });
    expect(at(find(res, CM, "tf-mon-alertmanager-config").inputs, "data")).toEqual({
      "alertmanager.yml": plan.config,
    });
    const secret = find(res, SECRET, "tf-mon-alertmanager-receivers").inputs;
    // Recorded as a Pulumi secret: the values never reach the plan's or state's plain text.
    expect(at(secret, "stringData")).toEqual({
      secret: {
        "slack-webhook-url": "https://hooks.slack.com/services/T/B/x",
        "pagerduty-routing-key": "pd-key",
      },
    });
    // The config holds file paths only.
    expect(plan.config).not.toContain("pd-key");
    expect(plan.config).not.toContain("hooks.slack.com");
    const ss = find(res, SS, "tf-mon-alertmanager").inputs;
    expect(at(ss, "spec.replicas")).toBe(2);
    const c = at(ss, "spec.template.spec.containers.0") as { args: string[] };
    expect(c.args.filter((a) => a.startsWith("--cluster.peer="))).toEqual([
      "--cluster.peer=tf-mon-alertmanager-0.tf-mon-alertmanager.taskfleet.svc:9094",
      "--cluster.peer=tf-mon-alertmanager-1.tf-mon-alertmanager.taskfleet.svc:9094",
    ]);
    expect(at(ss, "spec.template.spec.volumes.2")).toEqual({
      name: "receivers",
      secret: { secretName: "tf-mon-alertmanager-receivers" },
    });
    expect(at(ss, "spec.template.spec.securityContext.runAsNonRoot")).toBe(true);
    expect(
      at(
        find(res, "kubernetes:core/v1:Service", "tf-mon-alertmanager-svc").inputs,
        "spec.clusterIP",
      ),
    ).toBe("None");
  });

  it("points Prometheus at every replica and scrapes them, kube-state-metrics, node-exporter and the kubelets", () => {
    const targets = promConfig.alerting.alertmanagers[0]!.static_configs[0]!.targets;
    expect(targets).toEqual([
      "tf-mon-alertmanager-0.tf-mon-alertmanager.taskfleet.svc:9093",
      "tf-mon-alertmanager-1.tf-mon-alertmanager.taskfleet.svc:9093",
    ]);
    const job = (n: string) => promConfig.scrape_configs.find((j) => j.job_name === n);
    expect(job("alertmanager")!.static_configs).toEqual([{ targets }]);
    expect(job("kube-state-metrics")!.static_configs).toEqual([
      { targets: ["tf-mon-cluster-kube-state-metrics.taskfleet.svc:8080"] },
    ]);
    expect(job("node-exporter")).toBeDefined();
    expect(job("kubelet")).toBeDefined();
    expect(job("taskfleet-workers")!.relabel_configs!.at(-1)).toEqual({
      source_labels: ["__meta_kubernetes_pod_label_taskfleet_io_worker_pool"],
      target_label: "pool",
      action: "replace",
    });
    // A changed config or rule file rolls Prometheus (it reads them only at start).
    const prom = find(res, SS, "tf-mon-prometheus").inputs;
    expect(at(prom, "spec.template.metadata.annotations")).toEqual({
      "taskfleet.io/config-sha256": createHash("sha256")
        .update(JSON.stringify(promConfig, null, 2) + "\n")
        .update(JSON.stringify(rules, null, 2) + "\n")
        .digest("hex"),
    });
    expect(rules.groups.map((g) => g.name)).toContain("taskfleet-cluster");
    expect(rules.groups.map((g) => g.name)).toContain("taskfleet-alerting");
    const pools = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert === "WorkerPoolDown");
    expect(pools.map((r) => r.labels.pool)).toEqual(["high_priority"]);
    // Prometheus may read node metrics from the kubelets, nothing broader (no nodes/proxy).
    const role = find(res, CR, "tf-mon-prometheus").inputs as {
      rules: { resources: string[]; verbs: string[] }[];
    };
    expect(role.rules.flatMap((r) => r.resources)).toEqual([
      "pods",
      "services",
      "endpoints",
      "nodes",
      "nodes/metrics",
    ]);
  });

  it("runs kube-state-metrics with list/watch on nodes and claims only, node-exporter in a privileged namespace of its own", () => {
    const ksm = find(res, CR, "tf-mon-cluster-kube-state-metrics-clusterrole").inputs as {
      rules: unknown[];
    };
    expect(ksm.rules).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] },
      { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["list", "watch"] },
    ]);
    const ns = find(res, NS, "tf-mon-cluster-node-exporter-ns").inputs;
    expect(at(ns, "metadata.labels")).toMatchObject({
      "pod-security.kubernetes.io/enforce": "privileged",
    });
    const ds = find(res, DS, "tf-mon-cluster-node-exporter").inputs;
    expect(at(ds, "metadata.namespace")).toBe("taskfleet-node-metrics");
    const pod = at(ds, "spec.template.spec") as Record<string, unknown>;
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.hostPID).toBeUndefined();
    expect(
      (at(pod, "containers.0.volumeMounts") as { readOnly: boolean }[]).every((m) => m.readOnly),
    ).toBe(true);
    expect(at(pod, "containers.0.securityContext")).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(ofType(res, DS)).toHaveLength(1);
  });

  it("refuses channels whose secret is missing, and a node-exporter namespace that is the monitoring one", async () => {
    const { Alertmanager } = await import("../../../components/monitoring/alertmanager.js");
    expect(
      () =>
        new Alertmanager("am-x", {
          namespace: "taskfleet",
          channels: { slack: { channel: "#a" } },
        }),
    ).toThrow("secrets: slack-webhook-url missing; the configured channels need slack-webhook-url");
    expect(() =>
      clusterMetricsObjects({
        name: "x",
        namespace: "taskfleet",
        nodeExporterNamespace: "taskfleet",
      }),
    ).toThrow(
      'nodeExporterNamespace: "taskfleet" is the monitoring namespace; node-exporter needs its own (Pod Security "privileged" for its hostPath mounts)',
    );
  });
});

describe("the prod stack's Alertmanager (taskfleet plan)", () => {
  const dir = tempDir("taskfleet-am-plan-");
  afterAll(() => dir.cleanup());

  it("passes amtool check-config and routes critical to PagerDuty and Slack, warning to Slack", async () => {
    const plan = await planStack("prod-us-east-1");
    const cm = plan.kubernetes.find(
      (o) =>
        o.kind === "ConfigMap" &&
        (o.metadata as { name?: string }).name?.endsWith("-alertmanager-config") === true,
    ) as { data: Record<string, string> };
    const file = join(dir.path, "alertmanager.yml");
    writeFileSync(file, cm.data["alertmanager.yml"]!);
    const check = await execFileP("/usr/bin/amtool", ["check-config", file]);
    expect(check.stdout).toContain("SUCCESS");
    const config = JSON.parse(cm.data["alertmanager.yml"]!) as {
      receivers: Record<string, unknown>[];
    };
    expect(config.receivers.map((r) => Object.keys(r).sort())).toEqual([
      ["name", "pagerduty_configs", "slack_configs"],
      ["name", "slack_configs"],
    ]);
    const route = async (severity: string): Promise<string> =>
      (
        await execFileP("/usr/bin/amtool", [
          "config",
          "routes",
          "test",
          `--config.file=${file}`,
          `severity=${severity}`,
        ])
      ).stdout.trim();
    expect(await route("critical")).toBe("taskfleet-critical");
    expect(await route("warning")).toBe("taskfleet-warning");
    // The keys reach the cluster only as a Secret's values.
    const secret = plan.resources.find((r) => r.name.endsWith("-alertmanager-receivers"))!;
    expect(JSON.stringify(secret.inputs)).not.toContain('plan-placeholder-routing-key"}}');
  }, 120_000);

  it("the entry program stops before creating anything when a channel's key is not a stack secret", async () => {
    const { config } = readStackFile("prod-us-east-1");
    const engine = await installMocks({ project: "taskfleet", stack: "prod-us-east-1", config });
    const program = (await import("../../../index.js")) as {
      default: () => Promise<unknown>;
    };
    await expect(program.default()).rejects.toThrow(
      "taskfleet:alertingSlackWebhookUrl: missing; taskfleet:alerting.slack (the incoming webhook URL) needs it. Set it as a secret: pulumi config set --secret taskfleet:alertingSlackWebhookUrl <value>",
    );
    await engine.settle();
    expect(engine.resources.filter((r) => r.custom)).toEqual([]);
  });
});
