/**
 * The Monitoring component under Pulumi's mocks: what it registers (types, names, parents, key
 * inputs), that what it places is exactly what the pure generators produce, and that bad
 * arguments fail before anything is created, with the field named.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  planMonitoring,
  type MonitoringSettings,
} from "../../../components/monitoring/monitoringPlan.js";
import { generateAlertRules, renderRuleFile } from "../../../components/monitoring/alertRules.js";
import { valueOf } from "../../../cli/planEngine.js";
import { at, find, mocked, type RecordedResource } from "../support.js";

const ARGS = {
  namespace: "monitoring",
  region: "eu-west-1",
  expectedBrokerNodes: 5,
  brokers: { namespace: "taskfleet" },
  workers: { namespace: "taskfleet", podLabels: { "taskfleet.io/role": "worker" } },
  api: { namespace: "taskfleet", port: 8000 },
};

const TOKEN = "taskfleet:monitoring:Monitoring";
const SS = "kubernetes:apps/v1:StatefulSet";
const DEP = "kubernetes:apps/v1:Deployment";
const SVC = "kubernetes:core/v1:Service";
const CM = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";

function expectRestricted(pod: unknown): void {
  expect(at(pod, "securityContext.runAsNonRoot")).toBe(true);
  expect(at(pod, "securityContext.seccompProfile.type")).toBe("RuntimeDefault");
  for (const c of at(pod, "containers") as unknown[]) {
    expect(at(c, "securityContext.allowPrivilegeEscalation")).toBe(false);
    expect(at(c, "securityContext.capabilities.drop")).toEqual(["ALL"]);
    expect(at(c, "securityContext.runAsNonRoot")).toBe(true);
  }
}

describe("Monitoring (mocks)", () => {
  let all: RecordedResource[];
  let mine: RecordedResource[];
  let outputs: {
    prometheusUrl: string;
    grafanaUrl: string;
    password: string;
    alerts: readonly string[];
  };
  beforeAll(async () => {
    const engine = await mocked();
    const { Monitoring } = await import("../../../components/monitoring/monitoring.js");
    const m = new Monitoring("tf-mon", {
      ...ARGS,
      redis: { address: "clustercfg.results.cache.mock:6379", authToken: "s3cret" },
      federation: {
        managementUrl: "http://tf-broker.taskfleet.svc:15672",
        username: "monitoring",
        password: "m0n",
      },
      retentionDays: 45,
      storageSizeGiB: 200,
      storageClassName: "io2",
      nodeSelector: { "taskfleet.io/pool": "system" },
      thresholds: { queueBacklogMessages: 20000 },
    });
    const bare = new Monitoring("tf-bare", ARGS);
    outputs = {
      prometheusUrl: await valueOf(m.prometheusUrl),
      grafanaUrl: await valueOf(m.grafanaUrl),
      password: await valueOf(m.grafanaAdminPassword),
      alerts: m.alertNames,
    };
    expect(bare.alertNames).toEqual(m.alertNames);
    await engine.settle();
    all = engine.resources;
    mine = all.filter((r) => r.name === "tf-mon" || r.name.startsWith("tf-mon-"));
  });

  it("registers the component and every child under it, named from the component's name", () => {
    expect(find(all, TOKEN, "tf-mon").parent).toBeUndefined();
    const children = mine.filter((r) => r.type !== TOKEN);
    expect(children.map((r) => [r.type, r.name]).sort()).toEqual(
      [
        ["kubernetes:core/v1:ServiceAccount", "tf-mon-prometheus"],
        ["kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "tf-mon-prometheus"],
        ["kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "tf-mon-prometheus"],
        [CM, "tf-mon-prometheus-config"],
        [CM, "tf-mon-prometheus-rules"],
        [SS, "tf-mon-prometheus"],
        [SVC, "tf-mon-prometheus"],
        ["random:index/randomPassword:RandomPassword", "tf-mon-grafana-admin"],
        [SECRET, "tf-mon-grafana-admin"],
        [CM, "tf-mon-grafana-provisioning"],
        [CM, "tf-mon-grafana-dashboards"],
        [DEP, "tf-mon-grafana"],
        [SVC, "tf-mon-grafana"],
        [SECRET, "tf-mon-redis-exporter"],
        [DEP, "tf-mon-redis-exporter"],
        [SVC, "tf-mon-redis-exporter"],
        [SECRET, "tf-mon-federation-exporter"],
        [CM, "tf-mon-federation-exporter-script"],
        [DEP, "tf-mon-federation-exporter"],
        [SVC, "tf-mon-federation-exporter"],
      ].sort(),
    );
    for (const c of children) {
      expect([c.name, c.parent, c.parentType]).toEqual([c.name, "tf-mon", TOKEN]);
    }
    // Without `redis`, no exporter is created; the second instance does not collide.
    const bare = all.filter((r) => r.name.startsWith("tf-bare-"));
    expect(bare.filter((r) => r.name.includes("redis-exporter"))).toEqual([]);
    expect(bare).toHaveLength(13);
  });

  it("runs Prometheus as a StatefulSet on the SSD class, with retention flags and restricted pods", () => {
    const ss = find(mine, SS, "tf-mon-prometheus").inputs;
    expect(at(ss, "metadata.namespace")).toBe("monitoring");
    expect(at(ss, "spec.volumeClaimTemplates.0.spec")).toEqual({
      accessModes: ["ReadWriteOnce"],
      storageClassName: "io2",
      resources: { requests: { storage: "200Gi" } },
    });
    expect(at(ss, "spec.template.spec.containers.0.args")).toEqual([
      "--config.file=/etc/prometheus/prometheus.yml",
      "--storage.tsdb.path=/prometheus",
      "--storage.tsdb.retention.time=45d",
      "--storage.tsdb.retention.size=184320MB",
      "--web.listen-address=:9090",
    ]);
    expect(at(ss, "spec.template.spec.containers.0.image")).toBe(
      "quay.io/prometheus/prometheus:v2.42.0",
    );
    expect(at(ss, "spec.template.spec.nodeSelector")).toEqual({ "taskfleet.io/pool": "system" });
    expect(at(ss, "spec.template.spec.serviceAccountName")).toBe("tf-mon-prometheus");
    expectRestricted(at(ss, "spec.template.spec"));
    expect(at(ss, "spec.template.spec.securityContext.runAsUser")).toBe(65534);
    for (const d of [
      find(mine, DEP, "tf-mon-grafana"),
      find(mine, DEP, "tf-mon-redis-exporter"),
      find(mine, DEP, "tf-mon-federation-exporter"),
    ]) {
      expectRestricted(at(d.inputs, "spec.template.spec"));
    }
    const svc = find(mine, SVC, "tf-mon-prometheus").inputs;
    expect(at(svc, "spec.selector")).toEqual(at(ss, "spec.selector.matchLabels"));
    expect(at(svc, "spec.ports")).toEqual([{ name: "http", port: 9090, targetPort: "http" }]);
  });

  it("places exactly the generated config and rules", () => {
    const plan = planMonitoring("tf-mon", {
      ...ARGS,
      monitorRedis: true,
      monitorFederation: true,
      retentionDays: 45,
      storageSizeGiB: 200,
      storageClassName: "io2",
      thresholds: { queueBacklogMessages: 20000 },
    });
    const config = find(mine, CM, "tf-mon-prometheus-config").inputs;
    expect(at(config, "data")).toEqual({ "prometheus.yml": plan.prometheusConfig });
    const parsed = JSON.parse(plan.prometheusConfig);
    expect(parsed.scrape_configs.map((j: { job_name: string }) => j.job_name)).toEqual([
      "rabbitmq",
      "rabbitmq-queues",
      "taskfleet-workers",
      "taskfleet-api",
      "redis",
      "taskfleet-federation",
    ]);
    expect(parsed.scrape_configs[5].static_configs).toEqual([
      { targets: ["tf-mon-federation-exporter.monitoring.svc:9877"] },
    ]);
    expect(parsed.scrape_configs[4].static_configs).toEqual([
      { targets: ["tf-mon-redis-exporter.monitoring.svc:9121"] },
    ]);
    expect(parsed.scrape_configs[2].relabel_configs[0]).toEqual({
      source_labels: ["__meta_kubernetes_pod_label_taskfleet_io_role"],
      regex: "worker",
      action: "keep",
    });
    expect(parsed.scrape_configs[3].relabel_configs.at(-4).replacement).toBe("$1:8000");
    const rules = find(mine, CM, "tf-mon-prometheus-rules").inputs;
    expect(at(rules, "data")).toEqual({
      "taskfleet-alerts.yml": renderRuleFile(
        generateAlertRules({ expectedBrokerNodes: 5, thresholds: { queueBacklogMessages: 20000 } }),
      ),
    });
    expect(outputs.alerts).toHaveLength(27);
  });

  it("provisions Grafana with the data source, the four dashboards and a generated admin password", () => {
    const prov = find(mine, CM, "tf-mon-grafana-provisioning").inputs;
    const data = at(prov, "data") as Record<string, string>;
    expect(JSON.parse(data["datasource.yml"]!).datasources[0].url).toBe(
      "http://tf-mon-prometheus.monitoring.svc:9090",
    );
    expect(JSON.parse(data["dashboards.yml"]!).providers[0].options.path).toBe(
      "/etc/grafana/dashboards",
    );
    const dash = at(find(mine, CM, "tf-mon-grafana-dashboards").inputs, "data") as Record<
      string,
      string
    >;
    expect(Object.keys(dash).sort()).toEqual([
      "taskfleet-federation.json",
      "taskfleet-queues.json",
      "taskfleet-redis.json",
      "taskfleet-workers.json",
    ]);
    expect(JSON.parse(dash["taskfleet-queues.json"]!).uid).toBe("taskfleet-queues");
    const graf = find(mine, DEP, "tf-mon-grafana").inputs;
    const env = at(graf, "spec.template.spec.containers.0.env") as { name: string }[];
    expect(env.map((e) => e.name)).toContain("GF_SECURITY_ADMIN_PASSWORD");
    const secret = find(mine, SECRET, "tf-mon-grafana-admin").inputs;
    expect(at(secret, "stringData")).toEqual({
      secret: { user: "admin", password: "mock-tf-mon-grafana-admin-password" },
    });
    expect(outputs.password).toBe("mock-tf-mon-grafana-admin-password");
    expect(outputs.prometheusUrl).toBe("http://tf-mon-prometheus.monitoring.svc:9090");
    expect(outputs.grafanaUrl).toBe("http://tf-mon-grafana.monitoring.svc:3000");
  });

  it("runs the federation exporter script from a ConfigMap in a Node image, credentials in a Secret", () => {
    const script = readFileSync(
      join(import.meta.dirname, "../../../components/monitoring/exporter/federation-exporter.mjs"),
      "utf8",
    );
    const cm = find(mine, CM, "tf-mon-federation-exporter-script").inputs;
    expect(at(cm, "data")).toEqual({ "federation-exporter.mjs": script });
    expect(at(find(mine, SECRET, "tf-mon-federation-exporter").inputs, "stringData")).toEqual({
      secret: {
        url: "http://tf-broker.taskfleet.svc:15672",
        username: "monitoring",
        password: "m0n",
      },
    });
    const dep = find(mine, DEP, "tf-mon-federation-exporter").inputs;
    expect(at(dep, "spec.template.spec.containers.0.command")).toEqual([
      "node",
      "/exporter/federation-exporter.mjs",
    ]);
    expect(at(dep, "spec.template.spec.containers.0.image")).toBe(
      "docker.io/library/node:22-alpine",
    );
    expect(at(find(mine, SVC, "tf-mon-federation-exporter").inputs, "spec.ports")).toEqual([
      { name: "metrics", port: 9877, targetPort: "metrics" },
    ]);
  });

  it("points redis_exporter at the result backend over TLS with the AUTH token kept secret", () => {
    const secret = find(mine, SECRET, "tf-mon-redis-exporter").inputs;
    // The Kubernetes provider marks a Secret's whole stringData secret.
    expect(at(secret, "stringData")).toEqual({
      secret: { address: "rediss://clustercfg.results.cache.mock:6379", password: "s3cret" },
    });
    const dep = find(mine, DEP, "tf-mon-redis-exporter").inputs;
    expect(at(dep, "spec.template.spec.containers.0.ports")).toEqual([
      { name: "metrics", containerPort: 9121 },
    ]);
  });
});

describe("Monitoring with TLS brokers (mocks)", () => {
  it("mounts the broker CA into Prometheus and scrapes the brokers over HTTPS", async () => {
    const engine = await mocked();
    const { Monitoring } = await import("../../../components/monitoring/monitoring.js");
    new Monitoring("tls-mon", {
      ...ARGS,
      brokers: {
        namespace: "taskfleet",
        port: 15691,
        tls: { caSecretName: "tf-broker-tls", serverName: "tf-broker.taskfleet.svc" },
      },
    });
    await engine.settle();
    const ss = find(engine.resources, SS, "tls-mon-prometheus").inputs;
    expect(at(ss, "spec.template.spec.volumes.2")).toEqual({
      name: "brokers-ca",
      secret: { secretName: "tf-broker-tls", items: [{ key: "ca.crt", path: "ca.crt" }] },
    });
    expect(at(ss, "spec.template.spec.containers.0.volumeMounts.3")).toEqual({
      name: "brokers-ca",
      mountPath: "/etc/prometheus/tls/brokers",
      readOnly: true,
    });
    const data = at(find(engine.resources, CM, "tls-mon-prometheus-config").inputs, "data");
    const config = JSON.parse((data as Record<string, string>)["prometheus.yml"]!);
    expect(config.scrape_configs[0].scheme).toBe("https");
    expect(config.scrape_configs[0].tls_config).toEqual({
      ca_file: "/etc/prometheus/tls/brokers/ca.crt",
      server_name: "tf-broker.taskfleet.svc",
    });
    expect(config.scrape_configs[0].relabel_configs.at(-4).replacement).toBe("$1:15691");
  });
});

describe("Monitoring validation (before anything is created)", () => {
  const base: MonitoringSettings = { ...ARGS, monitorRedis: false };
  it.each([
    [
      { ...base, expectedBrokerNodes: 0 },
      "expectedBrokerNodes: 0 is not allowed; use a whole number from 1 to 99",
    ],
    [
      { ...base, namespace: "Mon" },
      'namespace: "Mon" is not a Kubernetes namespace name; use lowercase letters, digits and "-"',
    ],
    [
      { ...base, brokers: { namespace: "taskfleet", port: 0 } },
      "brokers.port: 0 is not a port; use 1 to 65535",
    ],
    [
      { ...base, workers: { namespace: "Tf" } },
      'workers.namespace: "Tf" is not a Kubernetes namespace name; use lowercase letters, digits and "-"',
    ],
    [
      { ...base, api: { namespace: "tf", podLabels: {} } },
      "api.podLabels: {} selects every pod in the namespace; give at least one label",
    ],
    [
      { ...base, storageClassName: "SSD Fast" },
      'storageClassName: "SSD Fast" is not a StorageClass name; name an SSD class such as "gp3"',
    ],
    [
      { ...base, retentionDays: 0 },
      "retentionDays: 0 is not allowed; use whole days from 1 to 3650",
    ],
    [
      { ...base, thresholds: { redisMemoryRatio: 2 } },
      "thresholds.redisMemoryRatio: 2 is not allowed; use a fraction greater than 0 and less than 1",
    ],
    [
      { ...base, prometheusMemoryGiB: 0.5 },
      "prometheusMemoryGiB: 0.5 is not allowed; use whole GiB from 1 to 256",
    ],
    [
      { ...base, brokers: { namespace: "tf", tls: { caSecretName: "Bad_Name", serverName: "b" } } },
      'brokers.tls.caSecretName: "Bad_Name" is not a Secret name; name the Secret holding the CA certificate',
    ],
  ])("rejects bad settings (case %#) with the exact message", (settings, message) => {
    expect(() => planMonitoring("tf-mon", settings)).toThrow(message);
  });

  it("rejects a name that cannot prefix Kubernetes names", () => {
    expect(() => planMonitoring("Tf_Mon", base)).toThrow(
      'name: "Tf_Mon" is not allowed; use at most 40 lowercase letters, digits and "-", starting with a letter',
    );
  });
});
