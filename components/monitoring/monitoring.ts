/**
 * The monitoring layer of one region on Kubernetes (seed S34–S38): Prometheus (a StatefulSet with
 * its TSDB on an SSD-backed volume and retention flags) scraping the brokers, workers, task API
 * and — through redis_exporter — the result backend; the generated alert rules; Grafana with the
 * generated dashboards provisioned. Everything it places comes from `planMonitoring` (pure).
 */
import { readFileSync } from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { containerSecurityContext, labels, podSecurityContext, selector } from "../k8s/objects.js";
import { FEDERATION_EXPORTER_PORT, REDIS_EXPORTER_PORT } from "./metrics.js";
import {
  MONITORING_DEFAULTS,
  PATHS,
  planMonitoring,
  type MonitoredPods,
  type MonitoredTls,
} from "./monitoringPlan.js";
import type { AlertThresholds } from "./thresholds.js";

export type { MonitoredPods, MonitoredTls };

/** The result backend redis_exporter watches. */
export interface MonitoredRedis {
  /** `host:port` of the Redis endpoint (the ElastiCache configuration endpoint). */
  readonly address: pulumi.Input<string>;
  /** AUTH token; stored in a Kubernetes Secret. @default - no AUTH */
  readonly authToken?: pulumi.Input<string>;
  /** Connect with TLS (`rediss://`), as ElastiCache with transit encryption requires. @default true */
  readonly tls?: boolean;
}

/** This region's broker management API, read by the federation exporter. */
export interface MonitoredFederation {
  /** Base URL of the RabbitMQ management API, e.g. `http://tf-broker.taskfleet.svc:15672`. */
  readonly managementUrl: pulumi.Input<string>;
  /** A management user allowed to read federation status (tag `monitoring`). */
  readonly username: pulumi.Input<string>;
  /** Its password; stored in a Kubernetes Secret. */
  readonly password: pulumi.Input<string>;
  /**
   * For an `https` URL signed by a private CA: the Secret (in the monitoring namespace) holding
   * the CA certificate, which the exporter trusts through `NODE_EXTRA_CA_CERTS`.
   * @default - the image's public CAs only
   */
  readonly ca?: { readonly secretName: string; readonly key?: string };
}

/** Where the federation exporter finds the management API's CA. */
const FEDERATION_CA_DIR = "/etc/federation-exporter/ca";

/** The exporter script, placed in a ConfigMap and run by a stock Node image. */
const FEDERATION_EXPORTER_SCRIPT = readFileSync(
  new URL("./exporter/federation-exporter.mjs", import.meta.url),
  "utf8",
);

/** Arguments of {@link Monitoring}. */
export interface MonitoringArgs {
  /** Namespace (existing) for Prometheus, Grafana and redis_exporter. @default - required */
  readonly namespace: string;
  /** Region name, the `region` external label on every series and alert. @default - required */
  readonly region: string;
  /** Broker nodes the region is configured with; fewer fires `RabbitMQNodesMissing`. @default - required */
  readonly expectedBrokerNodes: number;
  /** The RabbitMQ pods (prometheus plugin port 15692). @default - required (labels and port have defaults) */
  readonly brokers: MonitoredPods;
  /** The worker pods (`/metrics` on the runtime's health port, 8080). @default - required (labels and port have defaults) */
  readonly workers: MonitoredPods;
  /** The task API pods (`/metrics` on its metrics port, 9464). @default - required (labels and port have defaults) */
  readonly api: MonitoredPods;
  /** The result backend, watched through redis_exporter. @default - no Redis monitoring */
  readonly redis?: MonitoredRedis;
  /**
   * This region's federation links, watched through taskfleet's federation exporter (RabbitMQ
   * 3.10 exports no federation metrics). @default - no exporter; FederationLinkDown cannot fire
   */
  readonly federation?: MonitoredFederation;
  /** Alert threshold overrides (S37). @default DEFAULT_ALERT_THRESHOLDS */
  readonly thresholds?: Partial<AlertThresholds>;
  /** Queues allowed to hold messages without consumers (dead-letter queues). @default ".*(dlq|dead).*" */
  readonly unconsumedQueuesRegex?: string;
  /** Days of metric history to keep (S38). @default 30 */
  readonly retentionDays?: number;
  /** Size of Prometheus' volume; retention is also capped at 90% of it. @default 100 */
  readonly storageSizeGiB?: number;
  /** SSD StorageClass for Prometheus' volume. @default "gp3" */
  readonly storageClassName?: string;
  /** @default 30 */
  readonly scrapeIntervalSeconds?: number;
  /** @default 30 */
  readonly evaluationIntervalSeconds?: number;
  /** Alertmanager `host:port` addresses that receive the alerts. @default [] */
  readonly alertmanagers?: readonly string[];
  /** Memory limit of the Prometheus container. @default 4 */
  readonly prometheusMemoryGiB?: number;
  /** Node labels the monitoring pods must run on (e.g. the system pool). @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** @default "quay.io/prometheus/prometheus:v2.42.0" */
  readonly prometheusImage?: string;
  /** @default "docker.io/grafana/grafana:10.4.2" */
  readonly grafanaImage?: string;
  /** @default "docker.io/oliver006/redis_exporter:v1.58.0" */
  readonly redisExporterImage?: string;
  /** Image with Node 22 that runs the federation exporter. @default "docker.io/library/node:22-alpine" */
  readonly federationExporterImage?: string;
}

const PROMETHEUS_UID = 65534;
const GRAFANA_UID = 472;
const REDIS_EXPORTER_UID = 59000;
/** The `node` user of the official Node images. */
const NODE_UID = 1000;

/** A ClusterIP Service in front of one named container port (Prometheus, Grafana, exporters). */
function clusterIpService(
  name: string,
  namespace: pulumi.Input<string>,
  objectLabels: Record<string, string>,
  podSelector: Record<string, string>,
  portName: string,
  port: number,
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Service {
  return new k8s.core.v1.Service(
    name,
    {
      metadata: { name, namespace, labels: objectLabels },
      spec: {
        type: "ClusterIP",
        selector: podSelector,
        ports: [{ name: portName, port, targetPort: portName }],
      },
    },
    opts,
  );
}

/** Prometheus, alert rules, Grafana and redis_exporter for one region. */
export class Monitoring extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:monitoring:Monitoring";
  /** In-cluster URL of Prometheus. */
  public readonly prometheusUrl: pulumi.Output<string>;
  /** In-cluster URL of Grafana. */
  public readonly grafanaUrl: pulumi.Output<string>;
  /** Grafana's `admin` password (secret). */
  public readonly grafanaAdminPassword: pulumi.Output<string>;
  /** Names of the alert rules loaded into Prometheus. */
  public readonly alertNames: readonly string[];

  constructor(name: string, args: MonitoringArgs, opts: pulumi.ComponentResourceOptions = {}) {
    // Validate and decide everything before anything is registered.
    const plan = planMonitoring(name, {
      ...args,
      monitorRedis: args.redis !== undefined,
      monitorFederation: args.federation !== undefined,
    });
    super(Monitoring.TOKEN, name, {}, opts);
    const parent = { parent: this };
    const ns = plan.namespace;
    const nodeSelector = args.nodeSelector ?? {};
    const names = plan.names;

    // ---- Prometheus ----
    const promLabels = labels("prometheus", "monitoring", name);
    const promSelector = selector("prometheus", name);
    const sa = new k8s.core.v1.ServiceAccount(
      names.prometheus,
      { metadata: { name: names.prometheus, namespace: ns, labels: promLabels } },
      parent,
    );
    const role = new k8s.rbac.v1.ClusterRole(
      names.prometheus,
      {
        metadata: { labels: promLabels },
        rules: [
          {
            apiGroups: [""],
            resources: ["pods", "services", "endpoints"],
            verbs: ["get", "list", "watch"],
          },
        ],
      },
      parent,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      names.prometheus,
      {
        metadata: { labels: promLabels },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: role.metadata.name,
        },
        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: ns }],
      },
      parent,
    );
    const promConfig = new k8s.core.v1.ConfigMap(
      `${names.prometheus}-config`,
      {
        metadata: { namespace: ns, labels: promLabels },
        data: { "prometheus.yml": plan.prometheusConfig },
      },
      parent,
    );
    const promRules = new k8s.core.v1.ConfigMap(
      `${names.prometheus}-rules`,
      {
        metadata: { namespace: ns, labels: promLabels },
        data: { [plan.ruleFileName]: plan.rules },
      },
      parent,
    );
    new k8s.apps.v1.StatefulSet(
      names.prometheus,
      {
        metadata: { name: names.prometheus, namespace: ns, labels: promLabels },
        spec: {
          serviceName: names.prometheus,
          replicas: 1,
          selector: { matchLabels: promSelector },
          template: {
            metadata: { labels: promLabels },
            spec: {
              serviceAccountName: sa.metadata.name,
              nodeSelector,
              securityContext: podSecurityContext(PROMETHEUS_UID),
              containers: [
                {
                  name: "prometheus",
                  image: plan.images.prometheus,
                  args: [...plan.prometheusArgs],
                  ports: [{ name: "http", containerPort: 9090 }],
                  readinessProbe: {
                    httpGet: { path: "/-/ready", port: "http" },
                    periodSeconds: 10,
                  },
                  livenessProbe: {
                    httpGet: { path: "/-/healthy", port: "http" },
                    periodSeconds: 30,
                    failureThreshold: 6,
                  },
                  resources: {
                    requests: {
                      cpu: "500m",
                      memory: `${Math.ceil(plan.prometheusMemoryGiB / 2)}Gi`,
                    },
                    limits: { memory: `${plan.prometheusMemoryGiB}Gi` },
                  },
                  securityContext: containerSecurityContext(true),
                  volumeMounts: [
                    { name: "config", mountPath: PATHS.prometheusConfigDir, readOnly: true },
                    { name: "rules", mountPath: PATHS.prometheusRulesDir, readOnly: true },
                    { name: "data", mountPath: PATHS.prometheusData },
                    ...plan.caMounts.map((c) => ({
                      name: c.volume,
                      mountPath: c.mountPath,
                      readOnly: true,
                    })),
                  ],
                },
              ],
              volumes: [
                { name: "config", configMap: { name: promConfig.metadata.name } },
                { name: "rules", configMap: { name: promRules.metadata.name } },
                ...plan.caMounts.map((c) => ({
                  name: c.volume,
                  secret: { secretName: c.secretName, items: [{ key: c.key, path: c.key }] },
                })),
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: "data", labels: promLabels },
              spec: {
                accessModes: ["ReadWriteOnce"],
                storageClassName: plan.storageClassName,
                resources: { requests: { storage: `${plan.storageSizeGiB}Gi` } },
              },
            },
          ],
        },
      },
      parent,
    );
    clusterIpService(names.prometheus, ns, promLabels, promSelector, "http", 9090, parent);

    // ---- Grafana ----
    const grafLabels = labels("grafana", "monitoring", name);
    const grafSelector = selector("grafana", name);
    const password = new random.RandomPassword(
      `${names.grafana}-admin`,
      { length: 32, special: false },
      parent,
    );
    const adminSecret = new k8s.core.v1.Secret(
      `${names.grafana}-admin`,
      {
        metadata: { namespace: ns, labels: grafLabels },
        type: "Opaque",
        stringData: { user: "admin", password: password.result },
      },
      parent,
    );
    const provisioning = new k8s.core.v1.ConfigMap(
      `${names.grafana}-provisioning`,
      {
        metadata: { namespace: ns, labels: grafLabels },
        data: {
          "datasource.yml": plan.grafanaDatasource,
          "dashboards.yml": plan.grafanaDashboardProvider,
        },
      },
      parent,
    );
    const dashboards = new k8s.core.v1.ConfigMap(
      `${names.grafana}-dashboards`,
      { metadata: { namespace: ns, labels: grafLabels }, data: { ...plan.dashboards } },
      parent,
    );
    const fromSecret = (key: string) => ({
      secretKeyRef: { name: adminSecret.metadata.name, key },
    });
    new k8s.apps.v1.Deployment(
      names.grafana,
      {
        metadata: { name: names.grafana, namespace: ns, labels: grafLabels },
        spec: {
          replicas: 1,
          selector: { matchLabels: grafSelector },
          template: {
            metadata: { labels: grafLabels },
            spec: {
              nodeSelector,
              securityContext: podSecurityContext(GRAFANA_UID),
              containers: [
                {
                  name: "grafana",
                  image: plan.images.grafana,
                  ports: [{ name: "http", containerPort: 3000 }],
                  env: [
                    { name: "GF_SECURITY_ADMIN_USER", valueFrom: fromSecret("user") },
                    { name: "GF_SECURITY_ADMIN_PASSWORD", valueFrom: fromSecret("password") },
                    { name: "GF_PATHS_PROVISIONING", value: PATHS.grafanaProvisioning },
                    { name: "GF_PATHS_DATA", value: PATHS.grafanaData },
                    { name: "GF_AUTH_ANONYMOUS_ENABLED", value: "false" },
                    { name: "GF_ANALYTICS_REPORTING_ENABLED", value: "false" },
                  ],
                  readinessProbe: {
                    httpGet: { path: "/api/health", port: "http" },
                    periodSeconds: 10,
                  },
                  resources: {
                    requests: { cpu: "100m", memory: "256Mi" },
                    limits: { memory: "512Mi" },
                  },
                  securityContext: containerSecurityContext(true),
                  volumeMounts: [
                    {
                      name: "provisioning",
                      mountPath: `${PATHS.grafanaProvisioning}/datasources/datasource.yml`,
                      subPath: "datasource.yml",
                      readOnly: true,
                    },
                    {
                      name: "provisioning",
                      mountPath: `${PATHS.grafanaProvisioning}/dashboards/dashboards.yml`,
                      subPath: "dashboards.yml",
                      readOnly: true,
                    },
                    { name: "dashboards", mountPath: PATHS.grafanaDashboards, readOnly: true },
                    { name: "data", mountPath: PATHS.grafanaData },
                    { name: "tmp", mountPath: "/tmp" },
                  ],
                },
              ],
              volumes: [
                { name: "provisioning", configMap: { name: provisioning.metadata.name } },
                { name: "dashboards", configMap: { name: dashboards.metadata.name } },
                { name: "data", emptyDir: {} },
                { name: "tmp", emptyDir: {} },
              ],
            },
          },
        },
      },
      parent,
    );
    clusterIpService(names.grafana, ns, grafLabels, grafSelector, "http", 3000, parent);

    // ---- redis_exporter for the result backend ----
    if (args.redis) {
      const r = args.redis;
      const exLabels = labels("redis-exporter", "monitoring", name);
      const exSelector = selector("redis-exporter", name);
      const scheme = (r.tls ?? true) ? "rediss" : "redis";
      const exSecret = new k8s.core.v1.Secret(
        names.redisExporter,
        {
          metadata: { namespace: ns, labels: exLabels },
          type: "Opaque",
          stringData: {
            address: pulumi.interpolate`${scheme}://${r.address}`,
            password: r.authToken ? pulumi.secret(r.authToken) : "",
          },
        },
        parent,
      );
      const ref = (key: string) => ({ secretKeyRef: { name: exSecret.metadata.name, key } });
      new k8s.apps.v1.Deployment(
        names.redisExporter,
        {
          metadata: { name: names.redisExporter, namespace: ns, labels: exLabels },
          spec: {
            replicas: 1,
            selector: { matchLabels: exSelector },
            template: {
              metadata: { labels: exLabels },
              spec: {
                nodeSelector,
                securityContext: podSecurityContext(REDIS_EXPORTER_UID),
                containers: [
                  {
                    name: "redis-exporter",
                    image: plan.images.redisExporter,
                    env: [
                      { name: "REDIS_ADDR", valueFrom: ref("address") },
                      { name: "REDIS_PASSWORD", valueFrom: ref("password") },
                    ],
                    ports: [{ name: "metrics", containerPort: REDIS_EXPORTER_PORT }],
                    readinessProbe: { httpGet: { path: "/health", port: "metrics" } },
                    resources: {
                      requests: { cpu: "50m", memory: "64Mi" },
                      limits: { memory: "128Mi" },
                    },
                    securityContext: containerSecurityContext(true),
                  },
                ],
              },
            },
          },
        },
        parent,
      );
      clusterIpService(
        names.redisExporter,
        ns,
        exLabels,
        exSelector,
        "metrics",
        REDIS_EXPORTER_PORT,
        parent,
      );
    }

    // ---- federation exporter (link state from the management API) ----
    if (args.federation) {
      const f = args.federation;
      const fxLabels = labels("federation-exporter", "monitoring", name);
      const fxSelector = selector("federation-exporter", name);
      const fxSecret = new k8s.core.v1.Secret(
        names.federationExporter,
        {
          metadata: { namespace: ns, labels: fxLabels },
          type: "Opaque",
          stringData: {
            url: f.managementUrl,
            username: f.username,
            password: pulumi.secret(f.password),
          },
        },
        parent,
      );
      const fxScript = new k8s.core.v1.ConfigMap(
        `${names.federationExporter}-script`,
        {
          metadata: { namespace: ns, labels: fxLabels },
          data: { "federation-exporter.mjs": FEDERATION_EXPORTER_SCRIPT },
        },
        parent,
      );
      const ref = (key: string) => ({ secretKeyRef: { name: fxSecret.metadata.name, key } });
      const caKey = f.ca?.key ?? "ca.crt";
      new k8s.apps.v1.Deployment(
        names.federationExporter,
        {
          metadata: { name: names.federationExporter, namespace: ns, labels: fxLabels },
          spec: {
            replicas: 1,
            selector: { matchLabels: fxSelector },
            template: {
              metadata: { labels: fxLabels },
              spec: {
                nodeSelector,
                securityContext: podSecurityContext(NODE_UID),
                containers: [
                  {
                    name: "federation-exporter",
                    image: plan.images.federationExporter,
                    command: ["node", "/exporter/federation-exporter.mjs"],
                    env: [
                      { name: "RABBITMQ_MANAGEMENT_URL", valueFrom: ref("url") },
                      { name: "RABBITMQ_USERNAME", valueFrom: ref("username") },
                      { name: "RABBITMQ_PASSWORD", valueFrom: ref("password") },
                      { name: "EXPORTER_PORT", value: String(FEDERATION_EXPORTER_PORT) },
                      ...(f.ca
                        ? [{ name: "NODE_EXTRA_CA_CERTS", value: `${FEDERATION_CA_DIR}/${caKey}` }]
                        : []),
                    ],
                    ports: [{ name: "metrics", containerPort: FEDERATION_EXPORTER_PORT }],
                    readinessProbe: { httpGet: { path: "/healthz", port: "metrics" } },
                    resources: {
                      requests: { cpu: "20m", memory: "48Mi" },
                      limits: { memory: "96Mi" },
                    },
                    securityContext: containerSecurityContext(true),
                    volumeMounts: [
                      { name: "script", mountPath: "/exporter", readOnly: true },
                      ...(f.ca
                        ? [{ name: "ca", mountPath: FEDERATION_CA_DIR, readOnly: true }]
                        : []),
                    ],
                  },
                ],
                volumes: [
                  { name: "script", configMap: { name: fxScript.metadata.name } },
                  ...(f.ca
                    ? [
                        {
                          name: "ca",
                          secret: {
                            secretName: f.ca.secretName,
                            items: [{ key: caKey, path: caKey }],
                          },
                        },
                      ]
                    : []),
                ],
              },
            },
          },
        },
        parent,
      );
      clusterIpService(
        names.federationExporter,
        ns,
        fxLabels,
        fxSelector,
        "metrics",
        FEDERATION_EXPORTER_PORT,
        parent,
      );
    }

    this.prometheusUrl = pulumi.output(plan.prometheusUrl);
    this.grafanaUrl = pulumi.output(plan.grafanaUrl);
    this.grafanaAdminPassword = pulumi.secret(password.result);
    this.alertNames = plan.alertNames;
    this.registerOutputs({
      prometheusUrl: this.prometheusUrl,
      grafanaUrl: this.grafanaUrl,
      grafanaAdminPassword: this.grafanaAdminPassword,
      alertNames: this.alertNames,
    });
  }
}

export { MONITORING_DEFAULTS };
