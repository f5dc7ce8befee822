/**
 * Kubernetes objects of a region's RabbitMQ cluster (S7, S13, S16, S18): a StatefulSet of the
 * configured odd node count on an SSD StorageClass, booting from the broker generator's files,
 * with Kubernetes peer discovery, zone spread and host anti-affinity, a pre-stop hook that waits
 * for quorum, a raised open-files limit; its headless and internal-NLB Services, PDB,
 * NetworkPolicy and the RBAC peer discovery needs. Pure: no Pulumi import. Secrets are
 * referenced by name; the component fills them.
 */
import { POOL_LABEL } from "../compute/nodePools.js";
import {
  containerSecurityContext,
  fixedResources,
  k8sName,
  labels,
  objectMeta,
  onePodAtATime,
  podSecurityContext,
  selector,
  zoneSpread,
  type K8sObject,
} from "../k8s/objects.js";
import type { BrokerCommand } from "./definitions.js";
import { versionTraits, type RabbitmqVersion } from "./rabbitmqVersion.js";

/** uid/gid of the `rabbitmq` user in the official image. */
export const RABBITMQ_UID = 999;
export const CONFIG_DIR = "/etc/rabbitmq";
export const TLS_DIR = "/etc/rabbitmq/tls";
export const DATA_DIR = "/var/lib/rabbitmq";

/** Namespace of the KEDA operator (installed by ComputeCluster). */
export const KEDA_NAMESPACE = "keda";

export const PORTS = Object.freeze({
  amqp: 5672,
  amqps: 5671,
  management: 15672,
  managementTls: 15671,
  prometheus: 15692,
  prometheusTls: 15691,
  epmd: 4369,
  dist: 25672,
});

/** The ports a node listens on (as `rabbitmqConf` writes them): TLS moves all three. */
export function brokerPorts(tls: boolean): {
  amqp: number;
  management: number;
  prometheus: number;
} {
  return tls
    ? { amqp: PORTS.amqps, management: PORTS.managementTls, prometheus: PORTS.prometheusTls }
    : { amqp: PORTS.amqp, management: PORTS.management, prometheus: PORTS.prometheus };
}

/**
 * Key of the CA certificate in the broker's TLS Secret (`brokerNames(...).tls`, mounted at
 * {@link TLS_DIR}): the file name of `tls.caCertFile` when it is in that folder, else `ca.crt`
 * (the key cert-manager and `kubernetes.io/tls` Secrets use).
 */
export function tlsCaKey(caCertFile: string | null): string {
  const dir = `${TLS_DIR}/`;
  if (caCertFile?.startsWith(dir) && !caCertFile.slice(dir.length).includes("/"))
    return caCertFile.slice(dir.length);
  return "ca.crt";
}

export interface BrokerStorage {
  readonly volumeType: "gp3" | "io2";
  readonly volumeSizeGiB: number;
  readonly iops: number;
  /** gp3 only. */
  readonly throughputMiBps: number;
}

export interface BrokerManifestArgs {
  /** Component instance name; the StatefulSet is called after it. */
  readonly instance: string;
  readonly namespace: string;
  readonly image: string;
  /** The image's RabbitMQ series (peer discovery differs from 4.1 on). */
  readonly rabbitmqVersion: RabbitmqVersion;
  /** Odd, 3–7 (validated by the broker spec). */
  readonly nodes: number;
  readonly fileDescriptorLimit: number;
  readonly tls: boolean;
  readonly storage: BrokerStorage;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly terminationGracePeriodSeconds: number;
  /** Run on the tainted broker node pool. */
  readonly selectNodePool: boolean;
  /** CIDR blocks allowed to reach AMQP through the NLB (this VPC, peer regions' VPCs). */
  readonly clientCidrs: readonly string[];
  /** Checksum of the generated files; a change rolls the StatefulSet. */
  readonly configChecksum: string;
  /** Use this existing StorageClass instead of the generated EBS one. @default - the generated class */
  readonly storageClassName?: string;
  /**
   * What the `post-start` sidecar runs each time its own node has (re)started:
   * `postStartCommands(spec, [OWN_NODE])` (quorum-queue grow for this node, federation relink).
   */
  readonly postStart: readonly BrokerCommand[];
}

export interface BrokerNames {
  readonly statefulSet: string;
  readonly headless: string;
  readonly client: string;
  readonly config: string;
  readonly definitions: string;
  readonly cookie: string;
  readonly tls: string;
  readonly serviceAccount: string;
  readonly storageClass: string;
}

export function brokerNames(instance: string, volumeType: string): BrokerNames {
  const base = k8sName(instance);
  return {
    statefulSet: base,
    headless: k8sName(base, "nodes"),
    client: base,
    config: k8sName(base, "config"),
    definitions: k8sName(base, "definitions"),
    cookie: k8sName(base, "erlang-cookie"),
    tls: k8sName(base, "tls"),
    serviceAccount: k8sName(base, "peer-discovery"),
    storageClass: k8sName(base, volumeType),
  };
}

/** The in-cluster DNS suffix of the StatefulSet's pods (`.<headless>.<ns>.svc.cluster.local`). */
export function hostnameSuffix(names: BrokerNames, namespace: string): string {
  return `.${names.headless}.${namespace}.svc.cluster.local`;
}

/** Pre-stop: wait until every quorum queue keeps a majority without this node, then drain it. */
export function preStopCommand(graceSeconds: number): string[] {
  const t = Math.max(graceSeconds - 10, 10);
  return [
    "/bin/sh",
    "-c",
    `if [ -s /etc/pod-info/skipPreStopChecks ]; then exit 0; fi; ` +
      `rabbitmq-upgrade await_online_quorum_plus_one -t ${t} && rabbitmq-upgrade drain -t ${t}`,
  ];
}

/** Start command: raise the soft open-files limit (S16), then run the image's entrypoint. */
export function startCommand(fileDescriptorLimit: number): string[] {
  return [
    "/bin/sh",
    "-c",
    `ulimit -n ${fileDescriptorLimit} && exec docker-entrypoint.sh rabbitmq-server`,
  ];
}

/**
 * Stands for the pod's own Erlang node name in {@link BrokerManifestArgs.postStart}; the sidecar
 * script reads it from `RABBITMQ_NODENAME`.
 */
export const OWN_NODE = "<own node>";

/** How often the post-start sidecar checks its node, seconds. */
export const POST_START_POLL_SECONDS = 10;

/**
 * Erlang the sidecar evaluates on its node: the VM's uptime in ms once RabbitMQ has booted,
 * else `booting`. One CLI call per poll (each costs about 0.3 CPU-seconds).
 */
const UPTIME_EXPR =
  "case rabbit:is_booted() of true -> element(1, erlang:statistics(wall_clock)); false -> booting end.";

/** One word for `sh`: bare when it is plain, else single-quoted; {@link OWN_NODE} expands. */
export function shellWord(word: string): string {
  if (word === OWN_NODE) return '"$RABBITMQ_NODENAME"';
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The post-start sidecar's `sh` script. Every `pollSeconds` it asks its own node (the
 * `RABBITMQ_NODENAME` of the pod) whether RabbitMQ has booted and how long its VM has been up.
 * When the node has booted and has not been served since it last started (first boot, a
 * container restart: the uptime went down, or a spell of not answering), it runs `commands` in
 * order; if one fails it tries again at the next poll. Every command is safe to repeat. It never
 * uses `$(` or `$$` (Kubernetes expands those in a container's command).
 */
export function postStartScript(commands: readonly BrokerCommand[], pollSeconds: number): string {
  const steps = commands.map((c) => [c.tool, ...c.args].map(shellWord).join(" "));
  const run = steps.length === 0 ? "true" : steps.join(" && ");
  return [
    "trap 'exit 0' TERM INT",
    "pending=1; last=0",
    "while :; do",
    `  up=\`rabbitmqctl -q eval '${UPTIME_EXPR}' 2>/dev/null\``,
    '  case "$up" in',
    "    ''|*[!0-9]*) pending=1 ;;",
    "    *)",
    '      if [ "$up" -lt "$last" ]; then pending=1; fi',
    "      last=$up",
    '      if [ "$pending" = 1 ]; then',
    `        echo "post-start: $RABBITMQ_NODENAME is running; ${commands.length} commands"`,
    `        if ${run}; then`,
    '          pending=0; echo "post-start: done"',
    "        else",
    `          echo "post-start: a command failed; again in ${pollSeconds} s"`,
    "        fi",
    "      fi ;;",
    "  esac",
    `  sleep ${pollSeconds} & wait $!`,
    "done",
  ].join("\n");
}

export function storageClass(names: BrokerNames, s: BrokerStorage): K8sObject {
  const parameters: Record<string, string> =
    s.volumeType === "gp3"
      ? {
          type: "gp3",
          iops: String(s.iops),
          throughput: String(s.throughputMiBps),
          encrypted: "true",
          "csi.storage.k8s.io/fstype": "xfs",
        }
      : {
          type: "io2",
          iops: String(s.iops),
          encrypted: "true",
          "csi.storage.k8s.io/fstype": "xfs",
        };
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: names.storageClass, labels: { "app.kubernetes.io/part-of": "taskfleet" } },
    provisioner: "ebs.csi.aws.com",
    parameters,
    reclaimPolicy: "Retain",
    volumeBindingMode: "WaitForFirstConsumer",
    allowVolumeExpansion: true,
  };
}

export interface BrokerK8sObjects {
  readonly storageClass: K8sObject;
  readonly serviceAccount: K8sObject;
  /** Only for peer discovery version 1 (before 4.1), which reads the Service's endpoints. */
  readonly role?: K8sObject;
  readonly roleBinding?: K8sObject;
  readonly headlessService: K8sObject;
  readonly clientService: K8sObject;
  readonly statefulSet: K8sObject;
  readonly podDisruptionBudget: K8sObject;
  readonly networkPolicy: K8sObject;
}

export function brokerK8sObjects(a: BrokerManifestArgs): BrokerK8sObjects {
  const names = brokerNames(a.instance, a.storage.volumeType);
  const appName = "rabbitmq";
  const lbl = labels(appName, "broker", names.statefulSet);
  const match = selector(appName, names.statefulSet);
  const meta = (name: string) => objectMeta(name, a.namespace, lbl);
  const ports = brokerPorts(a.tls);
  const amqpPort = ports.amqp;
  const amqpName = a.tls ? "amqps" : "amqp";
  const suffix = hostnameSuffix(names, a.namespace);

  // Peer discovery version 2 (4.1+) derives the seed node from the pod's own name and never calls
  // the Kubernetes API: no token, no Role (least privilege). Version 1 lists the endpoints.
  const callsApi = !versionTraits(a.rabbitmqVersion).k8sDiscoveryV2;
  const serviceAccount: K8sObject = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: meta(names.serviceAccount),
    automountServiceAccountToken: callsApi,
  };
  const role: K8sObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: meta(names.serviceAccount),
    rules: [
      { apiGroups: [""], resources: ["endpoints"], verbs: ["get"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ],
  };
  const roleBinding: K8sObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: meta(names.serviceAccount),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: names.serviceAccount },
    subjects: [{ kind: "ServiceAccount", name: names.serviceAccount, namespace: a.namespace }],
  };
  const headlessService: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(names.headless),
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: match,
      ports: [
        { name: "epmd", port: PORTS.epmd, targetPort: "epmd", protocol: "TCP" },
        { name: "cluster-rpc", port: PORTS.dist, targetPort: "cluster-rpc", protocol: "TCP" },
        { name: amqpName, port: amqpPort, targetPort: amqpName, protocol: "TCP" },
        { name: "prometheus", port: ports.prometheus, targetPort: "prometheus", protocol: "TCP" },
      ],
    },
  };
  const clientService: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      ...meta(names.client),
      annotations: {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
      },
    },
    spec: {
      type: "LoadBalancer",
      selector: match,
      ports: [
        { name: amqpName, port: amqpPort, targetPort: amqpName, protocol: "TCP" },
        { name: "management", port: ports.management, targetPort: "management", protocol: "TCP" },
      ],
      loadBalancerSourceRanges: [...a.clientCidrs],
    },
  };

  const volumes: Record<string, unknown>[] = [
    {
      name: "config",
      projected: {
        sources: [
          {
            configMap: {
              name: names.config,
              items: [
                { key: "rabbitmq.conf", path: "rabbitmq.conf" },
                { key: "enabled_plugins", path: "enabled_plugins" },
              ],
            },
          },
          {
            secret: {
              name: names.definitions,
              items: [{ key: "definitions.json", path: "definitions.json" }],
            },
          },
        ],
      },
    },
    {
      name: "erlang-cookie-secret",
      secret: {
        secretName: names.cookie,
        items: [{ key: ".erlang.cookie", path: ".erlang.cookie" }],
      },
    },
    {
      name: "pod-info",
      downwardAPI: {
        items: [
          {
            path: "skipPreStopChecks",
            fieldRef: { fieldPath: "metadata.labels['skipPreStopChecks']" },
          },
        ],
      },
    },
    ...(a.tls ? [{ name: "tls", secret: { secretName: names.tls, defaultMode: 0o440 } }] : []),
  ];
  const mounts = [
    { name: "config", mountPath: CONFIG_DIR, readOnly: true },
    { name: "data", mountPath: DATA_DIR },
    { name: "pod-info", mountPath: "/etc/pod-info", readOnly: true },
    ...(a.tls ? [{ name: "tls", mountPath: TLS_DIR, readOnly: true }] : []),
  ];
  // The node's identity, the same in the server and the post-start sidecar (its CLI target).
  const nodeEnv = [
    { name: "MY_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "MY_POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: "K8S_SERVICE_NAME", value: names.headless },
    { name: "K8S_HOSTNAME_SUFFIX", value: suffix },
    { name: "RABBITMQ_USE_LONGNAME", value: "true" },
    { name: "RABBITMQ_NODENAME", value: `rabbit@$(MY_POD_NAME)${suffix}` },
  ];
  const statefulSet: K8sObject = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta(names.statefulSet),
    spec: {
      replicas: a.nodes,
      serviceName: names.headless,
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "RollingUpdate" },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      selector: { matchLabels: match },
      template: {
        metadata: {
          labels: lbl,
          annotations: { "taskfleet.io/config-checksum": a.configChecksum },
        },
        spec: {
          serviceAccountName: names.serviceAccount,
          securityContext: podSecurityContext(RABBITMQ_UID),
          terminationGracePeriodSeconds: a.terminationGracePeriodSeconds,
          ...(a.selectNodePool
            ? {
                nodeSelector: { [POOL_LABEL]: "broker" },
                tolerations: [
                  { key: POOL_LABEL, operator: "Equal", value: "broker", effect: "NoSchedule" },
                ],
              }
            : {}),
          topologySpreadConstraints: zoneSpread(match, "DoNotSchedule"),
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: match }, topologyKey: "kubernetes.io/hostname" },
              ],
            },
          },
          initContainers: [
            {
              name: "setup",
              image: a.image,
              command: [
                "/bin/sh",
                "-c",
                `cp /tmp/erlang-cookie-secret/.erlang.cookie ${DATA_DIR}/.erlang.cookie && chmod 600 ${DATA_DIR}/.erlang.cookie`,
              ],
              volumeMounts: [
                { name: "data", mountPath: DATA_DIR },
                {
                  name: "erlang-cookie-secret",
                  mountPath: "/tmp/erlang-cookie-secret",
                  readOnly: true,
                },
              ],
              resources: fixedResources("100m", "64Mi"),
              securityContext: containerSecurityContext(true),
            },
          ],
          containers: [
            {
              name: "rabbitmq",
              image: a.image,
              command: startCommand(a.fileDescriptorLimit),
              env: [
                ...nodeEnv,
                { name: "RABBITMQ_CONFIG_FILE", value: `${CONFIG_DIR}/rabbitmq.conf` },
                { name: "RABBITMQ_ENABLED_PLUGINS_FILE", value: `${CONFIG_DIR}/enabled_plugins` },
              ],
              ports: [
                { name: amqpName, containerPort: amqpPort, protocol: "TCP" },
                { name: "management", containerPort: ports.management, protocol: "TCP" },
                { name: "prometheus", containerPort: ports.prometheus, protocol: "TCP" },
                { name: "epmd", containerPort: PORTS.epmd, protocol: "TCP" },
                { name: "cluster-rpc", containerPort: PORTS.dist, protocol: "TCP" },
              ],
              resources: fixedResources(a.cpu, `${a.memoryGiB}Gi`),
              readinessProbe: {
                tcpSocket: { port: amqpName },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                failureThreshold: 3,
              },
              livenessProbe: {
                exec: { command: ["rabbitmq-diagnostics", "-q", "ping"] },
                initialDelaySeconds: 60,
                periodSeconds: 60,
                timeoutSeconds: 30,
                failureThreshold: 3,
              },
              lifecycle: {
                preStop: { exec: { command: preStopCommand(a.terminationGracePeriodSeconds) } },
              },
              volumeMounts: mounts,
              securityContext: containerSecurityContext(false),
            },
            {
              // RabbitMQ 3.10 gaps (docs/broker.md): grow quorum queues onto this node, relink
              // federated queues, each time this node (re)starts.
              name: "post-start",
              image: a.image,
              command: ["/bin/sh", "-c", postStartScript(a.postStart, POST_START_POLL_SECONDS)],
              env: [...nodeEnv, { name: "HOME", value: DATA_DIR }],
              resources: fixedResources("200m", "256Mi"),
              volumeMounts: [{ name: "data", mountPath: DATA_DIR, readOnly: true }],
              securityContext: containerSecurityContext(true),
            },
          ],
          volumes,
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data", labels: lbl },
          spec: {
            accessModes: ["ReadWriteOnce"],
            storageClassName: a.storageClassName ?? names.storageClass,
            resources: { requests: { storage: `${a.storage.volumeSizeGiB}Gi` } },
          },
        },
      ],
    },
  };
  const podDisruptionBudget = onePodAtATime(meta(names.statefulSet), match);
  const networkPolicy: K8sObject = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta(names.statefulSet),
    spec: {
      podSelector: { matchLabels: match },
      policyTypes: ["Ingress"],
      ingress: [
        // Clustering traffic only between the broker's own pods.
        {
          from: [{ podSelector: { matchLabels: match } }],
          ports: [
            { protocol: "TCP", port: PORTS.epmd },
            { protocol: "TCP", port: PORTS.dist },
          ],
        },
        // AMQP and management from pods of this namespace, from KEDA (it reads queue lengths) and
        // from the allowed blocks (NLB clients, peer regions).
        {
          from: [
            { podSelector: {} },
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": KEDA_NAMESPACE } },
            },
            ...a.clientCidrs.map((cidr) => ({ ipBlock: { cidr } })),
          ],
          ports: [
            { protocol: "TCP", port: amqpPort },
            { protocol: "TCP", port: ports.management },
          ],
        },
        // Metrics from any namespace's Prometheus (the monitoring layer).
        { from: [{ namespaceSelector: {} }], ports: [{ protocol: "TCP", port: ports.prometheus }] },
      ],
    },
  };
  return {
    storageClass: storageClass(names, a.storage),
    serviceAccount,
    ...(callsApi ? { role, roleBinding } : {}),
    headlessService,
    clientService,
    statefulSet,
    podDisruptionBudget,
    networkPolicy,
  };
}
