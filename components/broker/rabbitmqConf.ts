/**
 * `rabbitmq.conf` and `enabled_plugins` for a region's broker, generated from its `BrokerSpec`.
 * Pure: plain data in, text out.
 */
import type { BrokerSpec } from "./brokerSpec.js";
import {
  DEPLOYED_RABBITMQ_IMAGE,
  imageRabbitmqVersion,
  versionString,
  versionTraits,
  type RabbitmqVersion,
} from "./rabbitmqVersion.js";

/** How the nodes of a region find each other. */
export type ClusterFormation =
  /** A single node, or nodes joined by hand. */
  | { readonly kind: "none" }
  /** A fixed list of Erlang node names (`rabbit@host`), e.g. VMs or the local target. */
  | { readonly kind: "fixed"; readonly nodes: readonly string[] }
  /** Kubernetes peer discovery through the API server (a StatefulSet behind a headless service). */
  | {
      readonly kind: "kubernetes";
      /** Headless service of the StatefulSet, e.g. `broker-nodes`. */
      readonly serviceName: string;
      /** Suffix appended to pod names, e.g. `.broker-nodes.taskfleet.svc.cluster.local`. */
      readonly hostnameSuffix?: string;
      /** @default "kubernetes.default" */
      readonly apiHost?: string;
    };

/** Listener ports. Ports are placed on `bindAddress` (all interfaces when omitted). */
export interface ListenerOptions {
  /** @default 5672 */
  readonly amqpPort?: number;
  /** @default 5671 */
  readonly amqpsPort?: number;
  /** @default 15672 (15671 with TLS) */
  readonly managementPort?: number;
  /** @default 15692 (15691 with TLS) */
  readonly prometheusPort?: number;
  /** Address to listen on; omitted = all interfaces. @default none */
  readonly bindAddress?: string;
}

export interface RabbitmqConfOptions {
  /** @default { kind: "none" } */
  readonly formation?: ClusterFormation;
  /**
   * Listener lines; `false` leaves them out so the host (e.g. the local target, which picks free
   * ports) writes its own. @default {} (standard ports)
   */
  readonly listeners?: ListenerOptions | false;
  /** Where definitions.json is on the node; `null` leaves `load_definitions` out. @default "/etc/rabbitmq/definitions.json" */
  readonly definitionsFile?: string | null;
  /** @default `taskfleet-<region>` */
  readonly clusterName?: string;
  /**
   * The RabbitMQ series the file is for; keys that differ by version follow it (see
   * rabbitmqVersion.ts). @default the series of DEPLOYED_RABBITMQ_IMAGE
   */
  readonly version?: RabbitmqVersion;
}

/** The series of the image the cloud target deploys. */
export const DEPLOYED_RABBITMQ_VERSION: RabbitmqVersion =
  imageRabbitmqVersion(DEPLOYED_RABBITMQ_IMAGE)!;

export const DEFAULT_DEFINITIONS_FILE = "/etc/rabbitmq/definitions.json";

const GIB = 1024 ** 3;

/** The plugins a taskfleet node runs (S8 federation/shovel, S14 consistent hash, S34 metrics). */
export function brokerPlugins(formation: ClusterFormation = { kind: "none" }): string[] {
  return [
    "rabbitmq_management",
    "rabbitmq_prometheus",
    ...(formation.kind === "kubernetes" ? ["rabbitmq_peer_discovery_k8s"] : []),
    "rabbitmq_federation",
    "rabbitmq_federation_management",
    "rabbitmq_shovel",
    "rabbitmq_shovel_management",
    "rabbitmq_consistent_hash_exchange",
  ];
}

/** `enabled_plugins` file content (an Erlang term). */
export function renderEnabledPlugins(formation: ClusterFormation = { kind: "none" }): string {
  return `[${brokerPlugins(formation).join(",")}].\n`;
}

function listenerLines(spec: BrokerSpec, l: ListenerOptions): string[] {
  const tls = spec.tls;
  const at = (port: number): string => (l.bindAddress ? `${l.bindAddress}:${port}` : String(port));
  const lines: string[] = ["", "# listeners"];
  if (!tls.enabled || !tls.disablePlainListener)
    lines.push(`listeners.tcp.default = ${at(l.amqpPort ?? 5672)}`);
  else lines.push("listeners.tcp = none");
  const mgmt = l.managementPort ?? (tls.enabled ? 15671 : 15672);
  const prom = l.prometheusPort ?? (tls.enabled ? 15691 : 15692);
  if (tls.enabled) {
    lines.push(`listeners.ssl.default = ${at(l.amqpsPort ?? 5671)}`);
    lines.push(`management.ssl.port = ${mgmt}`);
    if (l.bindAddress) lines.push(`management.ssl.ip = ${l.bindAddress}`);
    lines.push(`management.ssl.cacertfile = ${tls.caCertFile}`);
    lines.push(`management.ssl.certfile = ${tls.certFile}`);
    lines.push(`management.ssl.keyfile = ${tls.keyFile}`);
    lines.push(`prometheus.ssl.port = ${prom}`);
    if (l.bindAddress) lines.push(`prometheus.ssl.ip = ${l.bindAddress}`);
    lines.push(`prometheus.ssl.cacertfile = ${tls.caCertFile}`);
    lines.push(`prometheus.ssl.certfile = ${tls.certFile}`);
    lines.push(`prometheus.ssl.keyfile = ${tls.keyFile}`);
  } else {
    lines.push(`management.tcp.port = ${mgmt}`);
    if (l.bindAddress) lines.push(`management.tcp.ip = ${l.bindAddress}`);
    lines.push(`prometheus.tcp.port = ${prom}`);
    if (l.bindAddress) lines.push(`prometheus.tcp.ip = ${l.bindAddress}`);
  }
  return lines;
}

function formationLines(spec: BrokerSpec, f: ClusterFormation, version: RabbitmqVersion): string[] {
  switch (f.kind) {
    case "none":
      return [];
    case "fixed":
      return [
        "",
        "# cluster formation: fixed node list",
        "cluster_formation.peer_discovery_backend = rabbit_peer_discovery_classic_config",
        ...f.nodes.map((n, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${n}`),
      ];
    case "kubernetes":
      return [
        "",
        "# cluster formation: Kubernetes peer discovery",
        "cluster_formation.peer_discovery_backend = rabbit_peer_discovery_k8s",
        // Plugin version 2 (4.1+) takes the StatefulSet's pod -0 as the seed, from this node's
        // own name, and ignores the version-1 keys below (rabbitmq_peer_discovery_k8s README).
        ...(versionTraits(version).k8sDiscoveryV2
          ? []
          : [
              `cluster_formation.k8s.host = ${f.apiHost ?? "kubernetes.default"}`,
              "cluster_formation.k8s.address_type = hostname",
              `cluster_formation.k8s.service_name = ${f.serviceName}`,
              ...(f.hostnameSuffix
                ? [`cluster_formation.k8s.hostname_suffix = ${f.hostnameSuffix}`]
                : []),
            ]),
        `cluster_formation.target_cluster_size_hint = ${spec.nodes}`,
        "cluster_formation.node_cleanup.only_log_warning = true",
      ];
  }
}

/** `rabbitmq.conf` (new-style sysctl format) for a node of the region's cluster. */
export function renderRabbitmqConf(spec: BrokerSpec, options: RabbitmqConfOptions = {}): string {
  const formation = options.formation ?? { kind: "none" };
  const definitionsFile =
    options.definitionsFile === undefined ? DEFAULT_DEFINITIONS_FILE : options.definitionsFile;
  const tls = spec.tls;
  const version = options.version ?? DEPLOYED_RABBITMQ_VERSION;
  const traits = versionTraits(version);
  const lines = [
    `# Generated by taskfleet for region ${spec.region} and RabbitMQ ${versionString(version)}; change taskfleet:broker, not this file.`,
    `cluster_name = ${options.clusterName ?? `taskfleet-${spec.region}`}`,
    // 4.3 removed Mnesia: partition handling is accepted but has no effect (release notes 4.3.0).
    ...(traits.partitionHandling ? ["cluster_partition_handling = pause_minority"] : []),
    // Spread queue leaders over the nodes. Classic queues read queue_master_locator before 4.0;
    // from 4.0 it is a deprecated feature and every queue type reads queue_leader_locator.
    ...(traits.masterLocator ? ["queue_master_locator = min-masters"] : []),
    "queue_leader_locator = balanced",
    `vm_memory_high_watermark.relative = ${spec.memoryHighWatermark}`,
    `disk_free_limit.absolute = ${Math.round(spec.diskFreeLimitGiB * GIB)}`,
    `consumer_timeout = ${spec.consumerTimeoutSeconds * 1000}`,
    "auth_mechanisms.1 = PLAIN",
    "auth_mechanisms.2 = AMQPLAIN",
    ...(definitionsFile === null ? [] : [`load_definitions = ${definitionsFile}`]),
    `# open-files limit (ulimit -n) is set by the host: ${spec.fileDescriptorLimit}`,
    // The worker runtime's pidbox queue and Python Celery's pidbox and event queues are
    // non-durable and non-exclusive; 4.3 refuses such queues unless permitted, on every node.
    ...(traits.deprecatedFeatureKeys
      ? ["deprecated_features.permit.transient_nonexcl_queues = true"]
      : []),
  ];
  if (options.listeners !== false) lines.push(...listenerLines(spec, options.listeners ?? {}));
  if (tls.enabled) {
    lines.push(
      "",
      "# TLS",
      `ssl_options.cacertfile = ${tls.caCertFile}`,
      `ssl_options.certfile = ${tls.certFile}`,
      `ssl_options.keyfile = ${tls.keyFile}`,
      `ssl_options.verify = ${tls.verifyPeer ? "verify_peer" : "verify_none"}`,
      `ssl_options.fail_if_no_peer_cert = ${tls.failIfNoPeerCert}`,
    );
  }
  lines.push(...formationLines(spec, formation, version));
  return lines.join("\n") + "\n";
}
