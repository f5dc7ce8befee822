import * as pulumi from "@pulumi/pulumi";
import { BrokerCluster } from "./broker/brokerCluster.js";
import { ComputeCluster } from "./compute/computeCluster.js";
import { POOL_LABEL } from "./compute/nodePools.js";
import type { RegionConfig } from "./config/regionConfig.js";
import { Federation } from "./federation/federation.js";
import { PEER_OUTPUTS } from "./federation/upstreams.js";
import { Ingress } from "./ingress/ingress.js";
import { namespace as namespaceObject, type K8sObject } from "./k8s/objects.js";
import { createObject } from "./k8s/place.js";
import type { AlertingSecrets } from "./monitoring/alertmanager.js";
import { Monitoring } from "./monitoring/monitoring.js";
import { Network } from "./network/network.js";
import { planRegion, type RegionPlan } from "./regionPlan.js";
import { Storage } from "./storage/storage.js";
import { PRIMARY_OUTPUTS } from "./storage/storagePlan.js";
import { WorkerTier } from "./workers/workerTier.js";

/** Arguments of {@link Region}. */
export interface RegionArgs {
  /** The stack's parsed, validated config (`parseRegionConfig`). @default - required */
  readonly config: RegionConfig;
  /** The raw `taskfleet:broker` value (validated here by `resolveBrokerSpec`). @default {} */
  readonly broker?: unknown;
  /** Kubernetes namespace of the task system. @default "taskfleet" */
  readonly namespace?: string;
  /** Tags added to every AWS resource. @default { "taskfleet:region": <region> } */
  readonly tags?: Record<string, string>;
  /**
   * The stack's name, carried by every physical name AWS requires unique, so two stacks in one
   * account (`dev` and `prod-us-east-1`) never collide.
   * @default pulumi.getStack()
   */
  readonly stack?: string;
  /**
   * The alerting channels' secret values (stack secrets, read by the entry program with
   * `readAlertingSecrets`). @default {}
   */
  readonly alertingSecrets?: AlertingSecrets;
}

export const REGION_DEFAULTS = Object.freeze({
  namespace: "taskfleet",
  monitoringStorageClass: "taskfleet-gp3",
});

/**
 * An Output whose value is supplied later in the same constructor (the broker's endpoint, for
 * the Federation built before the broker that needs its upstreams).
 */
function later<T>(): { output: pulumi.Output<T>; set: (value: pulumi.Output<T>) => void } {
  let set!: (value: pulumi.Output<T>) => void;
  const promise = new Promise<pulumi.Output<T>>((resolve) => (set = resolve));
  return { output: pulumi.output(promise) as unknown as pulumi.Output<T>, set };
}

/** General-purpose SSD class for Prometheus and other volumes (gp3, encrypted). */
function gp3Class(name: string): K8sObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name, labels: { "app.kubernetes.io/part-of": "taskfleet" } },
    provisioner: "ebs.csi.aws.com",
    parameters: { type: "gp3", encrypted: "true", "csi.storage.k8s.io/fstype": "ext4" },
    reclaimPolicy: "Delete",
    volumeBindingMode: "WaitForFirstConsumer",
    allowVolumeExpansion: true,
  };
}

/**
 * One region of taskfleet (one stack): network, Kubernetes cluster, broker and its federation
 * with the other regions, worker pools, task API with latency routing, storage (result backend in
 * a Global Datastore, event store, archive) and monitoring. Validates the whole region's config
 * before creating anything. Pass the region's AWS provider through `opts.providers`.
 *
 * Publishes for its peers (stack outputs, see PEER_OUTPUTS / PRIMARY_OUTPUTS) this region's broker
 * URIs and federation password (through the Federation), and its result backend's endpoint,
 * Global Datastore id and AUTH token.
 */
export class Region extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:region:Region";
  public readonly plan: RegionPlan;
  /** Stack outputs, by name (secrets stay secret). */
  public readonly outputs: Record<string, pulumi.Output<unknown>>;

  constructor(name: string, args: RegionArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const cfg = args.config;
    // Everything that can be wrong with the stack's config fails here, before anything is registered.
    const plan = planRegion(cfg, args.broker);
    super(Region.TOKEN, name, {}, opts);
    this.plan = plan;
    const ns = args.namespace ?? REGION_DEFAULTS.namespace;
    const stack = args.stack ?? pulumi.getStack();
    const tags = {
      "taskfleet:region": cfg.region,
      "taskfleet:environment": cfg.environment,
      ...(args.tags ?? {}),
    };
    const parent = { parent: this };

    const network = new Network(
      `${name}-network`,
      {
        cidr: cfg.network.cidr,
        availabilityZones: cfg.network.availabilityZones,
        existingVpcId: cfg.network.existingVpcId,
        existingPrivateSubnetIds: cfg.network.existingPrivateSubnetIds,
        existingPublicSubnetIds: cfg.network.existingPublicSubnetIds,
        tags,
      },
      parent,
    );

    const eks = cfg.cluster.mode === "eks";
    const compute = new ComputeCluster(
      `${name}-compute`,
      {
        mode: cfg.cluster.mode,
        region: cfg.region,
        stack,
        subnetIds: eks ? network.privateSubnetIds : undefined,
        kubernetesVersion: cfg.cluster.kubernetesVersion,
        endpointPublicAccess: cfg.cluster.endpointPublicAccess,
        publicAccessCidrs: cfg.cluster.publicAccessCidrs,
        privateAccessCidrs: cfg.cluster.privateAccessCidrs,
        adminRoleArns: [
          ...(cfg.cluster.deployRoleArn ? [cfg.cluster.deployRoleArn] : []),
          ...cfg.cluster.adminRoleArns,
        ],
        systemPool: cfg.cluster.systemPool,
        brokerPool: {
          instanceTypes: cfg.cluster.brokerPool.instanceTypes,
          minNodes: plan.brokerSpec.nodes,
          maxNodes: plan.brokerSpec.nodes + 1,
          desiredNodes: plan.brokerSpec.nodes,
          volumeSizeGiB: cfg.cluster.brokerPool.volumeSizeGiB,
        },
        workerPools: cfg.workers.pools.map((p) => ({
          name: p.name,
          instanceTypes: p.instanceTypes,
          minNodes: p.minNodes,
          maxNodes: p.maxNodes,
          volumeSizeGiB: 50,
        })),
        kubeconfig: cfg.cluster.kubeconfig,
        context: cfg.cluster.context,
        installKeda: cfg.cluster.installKeda,
        tags,
      },
      parent,
    );
    // Kubernetes objects take the cluster's provider; components hand it to their children.
    const k8sOpts = { parent: this, provider: compute.provider };
    const namespace = createObject(`${name}-taskfleet`, namespaceObject(ns), k8sOpts);
    const inNamespace = {
      parent: this,
      providers: { kubernetes: compute.provider },
      dependsOn: [namespace],
    };
    const monitoringClass = eks
      ? [createObject(`${name}-gp3`, gp3Class(REGION_DEFAULTS.monitoringStorageClass), k8sOpts)]
      : [];

    const storage = new Storage(
      `${name}-storage`,
      {
        stack,
        vpcId: network.vpcId,
        vpcCidr: network.cidr,
        privateSubnetIds: network.privateSubnetIds,
        // Zones are known only when the kit creates the VPC; else ElastiCache places the nodes.
        availabilityZones:
          cfg.network.existingVpcId === undefined ? cfg.network.availabilityZones : [],
        redisNodeType: cfg.storage.redis.nodeType,
        redisEngineVersion: cfg.storage.redis.engineVersion,
        redisReplicas: cfg.storage.redis.replicas,
        globalDatastoreRole: cfg.storage.redis.globalDatastore.role,
        primaryStack: cfg.storage.redis.globalDatastore.primaryStack,
        writeStack: cfg.storage.redis.globalDatastore.writeStack,
        secondaryRegions: cfg.storage.redis.globalDatastore.secondaryRegions,
        createOpenSearchServiceLinkedRole: cfg.storage.opensearch.serviceLinkedRole === "create",
        openSearchEngineVersion: cfg.storage.opensearch.engineVersion,
        openSearchInstanceType: cfg.storage.opensearch.instanceType,
        openSearchInstanceCount: cfg.storage.opensearch.instanceCount,
        openSearchVolumeSizeGiB: cfg.storage.opensearch.volumeSizeGiB,
        archiveGlacierAfterDays: cfg.storage.archive.glacierAfterDays,
        archiveExpireAfterDays: cfg.storage.archive.expireAfterDays,
        tags,
      },
      parent,
    );

    // The Federation reads the peers before the broker exists (the broker needs their URIs) and
    // publishes this region's endpoint, which the broker supplies once it is built.
    const localEndpoint = later<string>();
    const localPassword = later<string>();
    const federation = new Federation(
      `${name}-federation`,
      {
        region: cfg.region,
        peers: cfg.federation.peers,
        localEndpoint: localEndpoint.output,
        localPassword: localPassword.output,
        localTls: plan.brokerSpec.tls.enabled,
      },
      parent,
    );

    const bc = cfg.brokerCluster;
    let broker: BrokerCluster;
    try {
      broker = new BrokerCluster(
        `${name}-broker`,
        {
          region: cfg.region,
          spec: args.broker,
          upstreamUris: federation.upstreamUris,
          upstreamPasswords: federation.upstreamPasswords,
          namespace: ns,
          image: bc.image,
          volumeType: bc.volumeType,
          volumeSizeGiB: bc.volumeSizeGiB,
          iops: bc.iops,
          throughputMiBps: bc.volumeType === "gp3" ? bc.throughputMiBps : undefined,
          cpu: bc.cpu,
          memoryGiB: bc.memoryGiB,
          terminationGracePeriodSeconds: bc.terminationGracePeriodSeconds,
          storageClassName: bc.storageClassName,
          selectNodePool: compute.managedNodePools,
          clientCidrs: plan.brokerClientCidrs,
        },
        inNamespace,
      );
    } catch (err) {
      // Never leave the Federation's outputs waiting on a broker that was not built.
      localEndpoint.set(pulumi.output(""));
      localPassword.set(pulumi.output(""));
      throw err;
    }
    localEndpoint.set(broker.endpoint);
    localPassword.set(broker.passwords.apply((p) => p.federation));

    const workers = new WorkerTier(
      `${name}-workers`,
      {
        namespace: ns,
        image: cfg.workers.image,
        app: cfg.workers.app,
        healthPort: cfg.workers.healthPort,
        pools: plan.workerPools,
        brokerUrl: broker.urls.apply((u) => u.workers),
        resultBackendUrl: storage.resultBackendWriteUrl,
        selectNodePools: compute.managedNodePools,
        kedaRelease: compute.kedaRelease,
      },
      inNamespace,
    );

    const ingress = new Ingress(
      `${name}-ingress`,
      {
        region: cfg.region,
        namespace: ns,
        image: cfg.workers.image,
        replicas: cfg.ingress.replicas,
        port: cfg.ingress.port,
        cpu: cfg.ingress.cpu,
        memoryMiB: cfg.ingress.memoryMiB,
        brokerUrl: broker.urls.apply((u) => u.producers),
        resultBackendUrl: storage.resultBackendWriteUrl,
        hostname: cfg.ingress.hostname,
        hostedZoneId: cfg.ingress.hostedZoneId,
        routingArgs: plan.apiRoutingArgs,
        selectNodePool: compute.managedNodePools,
        exposure: cfg.ingress.exposure,
        certificateArn: cfg.ingress.certificateArn,
        clients: cfg.ingress.clients,
        tokensSecretName: cfg.ingress.tokensSecret,
        metricsPort: cfg.ingress.metricsPort,
      },
      inNamespace,
    );

    // With TLS on, RabbitMQ serves metrics and management only over TLS (15691, 15671); the CA
    // is in the broker's TLS Secret, and the certificate must carry the client Service's name
    // (the name clients connect to), which the scrapes and the exporter check.
    const brokerTls = broker.tls;
    // The federation exporter watches this region's links; a region without peers has none.
    const federationWatch =
      cfg.federation.peers.length > 0
        ? {
            managementUrl: broker.managementUrl,
            username: broker.spec.users.monitoring,
            password: broker.passwords.apply((p) => p.monitoring),
            ...(brokerTls
              ? { ca: { secretName: brokerTls.secretName, key: brokerTls.caKey } }
              : {}),
          }
        : undefined;
    const monitoring = new Monitoring(
      `${name}-monitoring`,
      {
        namespace: ns,
        region: cfg.region,
        expectedBrokerNodes: plan.brokerSpec.nodes,
        brokers: {
          namespace: ns,
          port: broker.ports.prometheus,
          ...(brokerTls
            ? {
                tls: {
                  caSecretName: brokerTls.secretName,
                  caKey: brokerTls.caKey,
                  serverName: broker.serviceHost,
                },
              }
            : {}),
        },
        ...(federationWatch ? { federation: federationWatch } : {}),
        workers: { namespace: ns, port: cfg.workers.healthPort },
        // The API serves /metrics on its own port, which its Service does not carry.
        api: { namespace: ns, port: cfg.ingress.metricsPort },
        redis: {
          address: pulumi.interpolate`${storage.resultBackendHost}:6379`,
          authToken: storage.resultBackendAuthToken,
          tls: true,
        },
        // Alerts reach people through the region's own Alertmanager (two replicas).
        alerting: { channels: cfg.alerting, secrets: args.alertingSecrets ?? {} },
        // Node, disk and volume rules: kube-state-metrics, node-exporter, the kubelets.
        clusterMetrics: { nodeExporterNamespace: `${ns}-node-metrics` },
        // A pool that may scale to zero has no worker to miss.
        workerPools: plan.workerPools.filter((p) => p.minReplicas >= 1).map((p) => p.name),
        storageClassName: eks
          ? REGION_DEFAULTS.monitoringStorageClass
          : (bc.storageClassName ?? "gp3"),
        nodeSelector: compute.managedNodePools ? { [POOL_LABEL]: "system" } : {},
      },
      { ...inNamespace, dependsOn: [namespace, ...monitoringClass] },
    );

    this.outputs = {
      region: pulumi.output(cfg.region),
      vpcId: network.vpcId,
      vpcCidr: network.cidr,
      clusterName: compute.clusterName,
      kubeconfig: compute.kubeconfig,
      [PEER_OUTPUTS.endpoint]: federation.endpoint,
      [PEER_OUTPUTS.uris]: federation.uris,
      [PEER_OUTPUTS.password]: federation.password,
      brokerPasswords: broker.passwords,
      workerDeployments: workers.deployments,
      apiLoadBalancer: ingress.loadBalancerHostname,
      apiUrl: ingress.url,
      apiTokens: ingress.apiTokens,
      [PRIMARY_OUTPUTS.host]: storage.resultBackendHost,
      [PRIMARY_OUTPUTS.globalDatastoreId]: storage.globalDatastoreId,
      [PRIMARY_OUTPUTS.authToken]: storage.resultBackendAuthToken,
      openSearchEndpoint: storage.openSearchEndpoint,
      archiveBucket: storage.archiveBucket,
      prometheusUrl: monitoring.prometheusUrl,
      grafanaUrl: monitoring.grafanaUrl,
      grafanaAdminPassword: monitoring.grafanaAdminPassword,
    };
    this.registerOutputs(this.outputs);
  }
}
