/**
 * The Prometheus configuration for one region: scrape jobs for the RabbitMQ nodes (node-level and
 * per-queue endpoints), the taskfleet workers, the task API and redis_exporter, plus the server
 * flags that set retention (S38). Pure: plain data in, plain data out.
 */
import {
  JOBS,
  RABBITMQ_DETAILED_FAMILIES,
  RABBITMQ_PROMETHEUS_PORT,
  REDIS_EXPORTER_PORT,
} from "./metrics.js";
import { RULE_FILE_NAME } from "./alertRules.js";

/** Scrape over HTTPS, verifying the target's certificate. */
export interface ScrapeTls {
  /** CA certificate file inside the Prometheus container. */
  caFile: string;
  /** Name the certificate must carry (pods are scraped by IP, so it cannot be the address). */
  serverName: string;
}

/** Fixed targets that share labels (e.g. the workers of one pool). */
export interface StaticGroup {
  readonly targets: readonly string[];
  /** Labels added to every series of these targets, e.g. `{ pool: "default" }`. */
  readonly labels: Readonly<Record<string, string>>;
}

/** Where a job finds its targets. */
export type TargetSource =
  | {
      /** Fixed `host:port` targets (the local target, or a Service's DNS name). */
      kind: "static";
      targets: readonly string[];
      /** More targets, with labels. @default [] */
      groups?: readonly StaticGroup[];
      /** @default - plain HTTP */
      tls?: ScrapeTls;
    }
  | {
      /** Running pods in one namespace whose labels match all of `podLabels`, scraped on `port`. */
      kind: "kubernetesPods";
      namespace: string;
      podLabels: Readonly<Record<string, string>>;
      port: number;
      /**
       * Series labels copied from pod labels: Prometheus label name → pod label key, e.g.
       * `{ pool: "taskfleet.io/worker-pool" }`. Every pod target also gets `pod`, `namespace`
       * and `node`. @default {}
       */
      targetLabels?: Readonly<Record<string, string>>;
      /** @default - plain HTTP */
      tls?: ScrapeTls;
    };

export interface ScrapeTargets {
  /** RabbitMQ nodes; the port is the prometheus plugin's (15692). */
  rabbitmq: TargetSource;
  /** taskfleet workers serving `/metrics`. */
  workers: TargetSource;
  /** The task API serving `/metrics`. */
  api: TargetSource;
  /** redis_exporter; omit when the region has no result backend to watch. @default - no job */
  redis?: TargetSource;
  /** taskfleet's federation exporter; omit when the region has no federation. @default - no job */
  federation?: TargetSource;
  /** kube-state-metrics. @default - no job */
  kubeStateMetrics?: TargetSource;
  /** node-exporter on every node. @default - no job */
  nodeExporter?: TargetSource;
  /** Alertmanager replicas (their own metrics). @default - no job */
  alertmanager?: TargetSource;
  /**
   * Every node's kubelet (persistent volume usage), found by Kubernetes node discovery and read on
   * the kubelet port with the pod's service account. @default false
   */
  kubelet?: boolean;
}

export interface PrometheusConfigInput {
  /** Region name, added to every series and alert as the `region` external label. */
  region: string;
  targets: ScrapeTargets;
  /** @default 30 */
  scrapeIntervalSeconds?: number;
  /** @default 30 */
  evaluationIntervalSeconds?: number;
  /** Folder the rule file is mounted in. @default "/etc/prometheus/rules" */
  rulesDir?: string;
  /** Alertmanager `host:port` addresses. @default [] (alerts are only visible in Prometheus) */
  alertmanagers?: readonly string[];
}

/** A Prometheus relabel rule (the fields this generator uses). */
export interface RelabelConfig {
  source_labels?: string[];
  regex?: string;
  action?: "keep" | "drop" | "replace" | "labelmap";
  target_label?: string;
  replacement?: string;
}

export interface ScrapeConfig {
  job_name: string;
  metrics_path: string;
  scheme?: "https";
  tls_config?: { ca_file: string; server_name?: string };
  authorization?: { credentials_file: string };
  params?: Record<string, string[]>;
  scrape_interval?: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  kubernetes_sd_configs?: ({ role: "pod"; namespaces: { names: string[] } } | { role: "node" })[];
  relabel_configs?: RelabelConfig[];
  metric_relabel_configs?: RelabelConfig[];
}

export interface PrometheusConfig {
  global: {
    scrape_interval: string;
    evaluation_interval: string;
    external_labels: Record<string, string>;
  };
  rule_files: string[];
  alerting?: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: ScrapeConfig[];
}

export const DEFAULT_SCRAPE_INTERVAL_SECONDS = 30;
export const DEFAULT_EVALUATION_INTERVAL_SECONDS = 30;
export const DEFAULT_RULES_DIR = "/etc/prometheus/rules";

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const HOST_PORT = /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:\d{1,5}$/;
const PROM_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Where a pod finds its service account's token and the cluster CA. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Kubernetes label key as Prometheus names it in pod discovery meta labels. */
export function podLabelMeta(key: string): string {
  return `__meta_kubernetes_pod_label_${key.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

/** Validates one target source; errors name it as `field` (e.g. `brokers`). */
export function validateTargetSource(field: string, s: TargetSource): void {
  if (s.tls !== undefined) {
    if (typeof s.tls.caFile !== "string" || !s.tls.caFile.startsWith("/")) {
      throw new Error(
        `${field}.tls.caFile: ${JSON.stringify(s.tls.caFile)} is not an absolute path; give the CA file inside the Prometheus container`,
      );
    }
    if (
      typeof s.tls.serverName !== "string" ||
      !/^[A-Za-z0-9*]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(s.tls.serverName)
    ) {
      throw new Error(
        `${field}.tls.serverName: ${JSON.stringify(s.tls.serverName)} is not a host name; give a name the certificate carries`,
      );
    }
  }
  if (s.kind === "static") {
    const check = (path: string, t: string): void => {
      if (!HOST_PORT.test(t) || Number(t.split(":").pop()) > 65535) {
        throw new Error(
          `${path}: ${JSON.stringify(t)} is not a target; use host:port such as "127.0.0.1:15692"`,
        );
      }
    };
    s.targets.forEach((t, i) => check(`${field}.targets[${i}]`, t));
    (s.groups ?? []).forEach((g, i) => {
      g.targets.forEach((t, j) => check(`${field}.groups[${i}].targets[${j}]`, t));
      for (const [k, v] of Object.entries(g.labels)) {
        if (!PROM_LABEL.test(k) || k.startsWith("__")) {
          throw new Error(
            `${field}.groups[${i}].labels: ${JSON.stringify(k)} is not a Prometheus label name`,
          );
        }
        if (typeof v !== "string" || v.length === 0) {
          throw new Error(
            `${field}.groups[${i}].labels.${k}: ${JSON.stringify(v)} is not a non-empty string`,
          );
        }
      }
    });
    return;
  }
  if (s.kind !== "kubernetesPods") {
    throw new Error(
      `${field}.kind: ${JSON.stringify((s as { kind: unknown }).kind)} is not allowed; use "static" or "kubernetesPods"`,
    );
  }
  if (
    typeof s.namespace !== "string" ||
    !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s.namespace)
  ) {
    throw new Error(
      `${field}.namespace: ${JSON.stringify(s.namespace)} is not a Kubernetes namespace name; use lowercase letters, digits and "-"`,
    );
  }
  const entries = Object.entries(s.podLabels);
  if (entries.length === 0) {
    throw new Error(
      `${field}.podLabels: {} selects every pod in the namespace; give at least one label`,
    );
  }
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) {
      throw new Error(`${field}.podLabels: key ${JSON.stringify(k)} is not a Kubernetes label key`);
    }
    if (!LABEL_VALUE.test(v)) {
      throw new Error(
        `${field}.podLabels.${k}: ${JSON.stringify(v)} is not a Kubernetes label value`,
      );
    }
  }
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) {
    throw new Error(`${field}.port: ${JSON.stringify(s.port)} is not a port; use 1 to 65535`);
  }
  for (const [name, key] of Object.entries(s.targetLabels ?? {})) {
    if (!PROM_LABEL.test(name) || name.startsWith("__")) {
      throw new Error(
        `${field}.targetLabels: ${JSON.stringify(name)} is not a Prometheus label name`,
      );
    }
    if (!LABEL_KEY.test(key)) {
      throw new Error(
        `${field}.targetLabels.${name}: ${JSON.stringify(key)} is not a Kubernetes label key`,
      );
    }
  }
}

function validateSeconds(field: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < 5 || v > 300) {
    throw new Error(
      `${field}: ${JSON.stringify(v)} is not allowed; use whole seconds from 5 to 300`,
    );
  }
}

function escapeRegex(v: string): string {
  return v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

type Targets = Pick<
  ScrapeConfig,
  "scheme" | "tls_config" | "static_configs" | "kubernetes_sd_configs" | "relabel_configs"
>;

function targetsFor(s: TargetSource): Targets {
  const tls: Targets = s.tls
    ? { scheme: "https", tls_config: { ca_file: s.tls.caFile, server_name: s.tls.serverName } }
    : {};
  return { ...tls, ...discovery(s) };
}

function discovery(s: TargetSource): Targets {
  if (s.kind === "static") {
    return {
      static_configs: [
        ...(s.targets.length > 0 ? [{ targets: [...s.targets] }] : []),
        ...(s.groups ?? []).map((g) => ({ targets: [...g.targets], labels: { ...g.labels } })),
      ],
    };
  }
  const keys = Object.keys(s.podLabels).sort();
  return {
    kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [s.namespace] } }],
    relabel_configs: [
      ...keys.map((k): RelabelConfig => ({
        source_labels: [podLabelMeta(k)],
        regex: escapeRegex(s.podLabels[k]!),
        action: "keep",
      })),
      { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Running", action: "keep" },
      {
        // One target per pod, on the metrics port, whatever ports the containers declare.
        source_labels: ["__meta_kubernetes_pod_ip"],
        regex: "(.+)",
        target_label: "__address__",
        replacement: `$1:${s.port}`,
        action: "replace",
      },
      {
        source_labels: ["__meta_kubernetes_pod_name"],
        target_label: "pod",
        action: "replace",
      },
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
      ...Object.keys(s.targetLabels ?? {})
        .sort()
        .map((name): RelabelConfig => ({
          source_labels: [podLabelMeta(s.targetLabels![name]!)],
          target_label: name,
          action: "replace",
        })),
    ],
  };
}

/**
 * Every node's kubelet, on the port its Node object advertises (node discovery's address), over
 * HTTPS verified with the cluster CA, authenticated with the pod's service account token (RBAC
 * `nodes/metrics`). Only the volume statistics are kept: the kubelet's `/metrics` is large.
 */
function kubeletJob(): ScrapeConfig {
  return {
    job_name: JOBS.kubelet,
    metrics_path: "/metrics",
    scheme: "https",
    tls_config: { ca_file: `${SERVICE_ACCOUNT_DIR}/ca.crt` },
    authorization: { credentials_file: `${SERVICE_ACCOUNT_DIR}/token` },
    kubernetes_sd_configs: [{ role: "node" }],
    relabel_configs: [
      {
        source_labels: ["__meta_kubernetes_node_name"],
        target_label: "node",
        action: "replace",
      },
    ],
    metric_relabel_configs: [
      { source_labels: ["__name__"], regex: "kubelet_volume_stats_.*", action: "keep" },
    ],
  };
}

/** Generates the region's Prometheus configuration. Throws a message naming the field on bad input. */
export function generatePrometheusConfig(input: PrometheusConfigInput): PrometheusConfig {
  if (!/^[a-z0-9][-a-z0-9]*$/.test(input.region)) {
    throw new Error(
      `region: ${JSON.stringify(input.region)} is not allowed; use lowercase letters, digits and "-" (e.g. "us-east-1")`,
    );
  }
  validateSeconds("scrapeIntervalSeconds", input.scrapeIntervalSeconds);
  validateSeconds("evaluationIntervalSeconds", input.evaluationIntervalSeconds);
  validateTargetSource("targets.rabbitmq", input.targets.rabbitmq);
  validateTargetSource("targets.workers", input.targets.workers);
  validateTargetSource("targets.api", input.targets.api);
  if (input.targets.redis) validateTargetSource("targets.redis", input.targets.redis);
  for (const key of ["federation", "kubeStateMetrics", "nodeExporter", "alertmanager"] as const) {
    const source = input.targets[key];
    if (source) validateTargetSource(`targets.${key}`, source);
  }
  for (const [i, a] of (input.alertmanagers ?? []).entries()) {
    if (!HOST_PORT.test(a)) {
      throw new Error(
        `alertmanagers[${i}]: ${JSON.stringify(a)} is not an address; use host:port such as "alertmanager:9093"`,
      );
    }
  }
  const scrape = input.scrapeIntervalSeconds ?? DEFAULT_SCRAPE_INTERVAL_SECONDS;
  const evaluation = input.evaluationIntervalSeconds ?? DEFAULT_EVALUATION_INTERVAL_SECONDS;
  const rulesDir = input.rulesDir ?? DEFAULT_RULES_DIR;
  const t = input.targets;

  const jobs: ScrapeConfig[] = [
    { job_name: JOBS.rabbitmq, metrics_path: "/metrics", ...targetsFor(t.rabbitmq) },
    {
      job_name: JOBS.rabbitmqQueues,
      metrics_path: "/metrics/detailed",
      params: { family: [...RABBITMQ_DETAILED_FAMILIES] },
      ...targetsFor(t.rabbitmq),
    },
    { job_name: JOBS.workers, metrics_path: "/metrics", ...targetsFor(t.workers) },
    { job_name: JOBS.api, metrics_path: "/metrics", ...targetsFor(t.api) },
  ];
  if (t.redis) {
    jobs.push({ job_name: JOBS.redis, metrics_path: "/metrics", ...targetsFor(t.redis) });
  }
  const optional = [
    [JOBS.federation, t.federation],
    [JOBS.kubeStateMetrics, t.kubeStateMetrics],
    [JOBS.nodeExporter, t.nodeExporter],
    [JOBS.alertmanager, t.alertmanager],
  ] as const;
  for (const [job, source] of optional) {
    if (source) jobs.push({ job_name: job, metrics_path: "/metrics", ...targetsFor(source) });
  }
  if (t.kubelet) jobs.push(kubeletJob());

  const config: PrometheusConfig = {
    global: {
      scrape_interval: `${scrape}s`,
      evaluation_interval: `${evaluation}s`,
      external_labels: { region: input.region },
    },
    rule_files: [`${rulesDir}/${RULE_FILE_NAME}`],
    scrape_configs: jobs,
  };
  if (input.alertmanagers && input.alertmanagers.length > 0) {
    config.alerting = {
      alertmanagers: [{ static_configs: [{ targets: [...input.alertmanagers] }] }],
    };
  }
  return config;
}

/** The configuration as text Prometheus loads (JSON, which is valid YAML). */
export function renderPrometheusConfig(config: PrometheusConfig): string {
  return JSON.stringify(config, null, 2) + "\n";
}

export interface RetentionInput {
  /** Days of history to keep (S38). @default 30 */
  retentionDays?: number;
  /** Size of the volume holding the TSDB. @default 100 */
  storageSizeGiB?: number;
}

export const DEFAULT_RETENTION_DAYS = 30;
export const DEFAULT_STORAGE_SIZE_GIB = 100;

/**
 * Prometheus server flags for retention: keep `retentionDays` of history, and never more than 90%
 * of the volume (so a burst of series cannot fill the disk and stop ingestion).
 */
export function retentionFlags(input: RetentionInput = {}): string[] {
  const days = input.retentionDays ?? DEFAULT_RETENTION_DAYS;
  const size = input.storageSizeGiB ?? DEFAULT_STORAGE_SIZE_GIB;
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new Error(
      `retentionDays: ${JSON.stringify(days)} is not allowed; use whole days from 1 to 3650`,
    );
  }
  if (!Number.isInteger(size) || size < 2 || size > 16384) {
    throw new Error(
      `storageSizeGiB: ${JSON.stringify(size)} is not allowed; use whole GiB from 2 to 16384`,
    );
  }
  const sizeMiB = Math.floor(size * 1024 * 0.9);
  return [`--storage.tsdb.retention.time=${days}d`, `--storage.tsdb.retention.size=${sizeMiB}MB`];
}

/** Exports a Prometheus pod's port constants for callers building targets. */
export const PORTS = {
  rabbitmqPrometheus: RABBITMQ_PROMETHEUS_PORT,
  redisExporter: REDIS_EXPORTER_PORT,
  prometheus: 9090,
  grafana: 3000,
} as const;
