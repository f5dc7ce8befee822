import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { physicalName } from "../config/physicalNames.js";
import {
  eksKubeconfig,
  IMDS_V2_REQUIRED,
  planNodePools,
  rootVolume,
  type NodePoolInput,
  type NodePoolPlan,
} from "./nodePools.js";

/** Arguments of {@link ComputeCluster}. */
export interface ComputeClusterArgs {
  /**
   * `eks` builds an EKS cluster with managed node groups; `existing` uses a cluster reached by
   * `kubeconfig` and creates no AWS compute.
   * @default "eks"
   */
  readonly mode?: "eks" | "existing";
  /**
   * The stack, carried by the cluster's name and its IAM roles' names, so two stacks in one
   * account never collide.
   * @default name
   */
  readonly stack?: string;
  /** AWS region the kubeconfig's token command asks for (mode `eks`). @default - required for mode "eks" */
  readonly region?: string;
  /** Private subnets of the nodes and the control plane's network interfaces. @default - required for mode "eks" */
  readonly subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** EKS Kubernetes version. @default "1.33" */
  readonly kubernetesVersion?: string;
  /**
   * Whether the API server has a public endpoint, reachable only from `publicAccessCidrs` (it
   * always has a private one inside the VPC).
   * @default true
   */
  readonly endpointPublicAccess?: boolean;
  /** Networks allowed to the public endpoint; required when it is public (EKS would default to 0.0.0.0/0). @default - required when public */
  readonly publicAccessCidrs?: readonly string[];
  /** Networks inside or routed to the VPC allowed to the private endpoint on 443. @default [] */
  readonly privateAccessCidrs?: readonly string[];
  /**
   * IAM roles given a cluster-admin access entry (AmazonEKSClusterAdminPolicy, cluster scope):
   * the role `pulumi up` runs as, and people's roles. The creator gets no implicit entry.
   * @default - required for mode "eks"
   */
  readonly adminRoleArns?: readonly string[];
  /** The system pool (CoreDNS, KEDA, controllers). @default { instanceTypes: ["m6i.large"], minNodes: 2, maxNodes: 4, volumeSizeGiB: 50 } */
  readonly systemPool?: NodePoolInput;
  /** The broker pool, tainted for RabbitMQ only (S18). @default { instanceTypes: ["r6i.xlarge"], minNodes: 3, maxNodes: 7, volumeSizeGiB: 100 } */
  readonly brokerPool?: NodePoolInput;
  /** One pool per worker pool (S22, S27), keyed by the worker pool's name. @default [] */
  readonly workerPools?: readonly (NodePoolInput & { name: string })[];
  /** Path to, or contents of, the kubeconfig of an existing cluster (mode `existing`). @default - required for mode "existing" */
  readonly kubeconfig?: pulumi.Input<string>;
  /** Context inside `kubeconfig`. @default - the kubeconfig's current context */
  readonly context?: string;
  /** Install KEDA (the worker autoscaler) with Helm. @default true */
  readonly installKeda?: boolean;
  /**
   * KEDA Helm chart version (the chart's version is KEDA's). 2.20 is tested with Kubernetes
   * 1.33-1.35 (https://keda.sh/docs/2.20/operate/cluster/); the plan rule
   * `keda-supports-kubernetes` checks the pair.
   * @default "2.20.2"
   */
  readonly kedaChartVersion?: string;
  /** Tags added to every AWS resource. @default {} */
  readonly tags?: Record<string, string>;
}

export const COMPUTE_DEFAULTS = Object.freeze({
  mode: "eks" as const,
  kubernetesVersion: "1.33",
  endpointPublicAccess: true,
  systemPool: { instanceTypes: ["m6i.large"], minNodes: 2, maxNodes: 4, volumeSizeGiB: 50 },
  brokerPool: { instanceTypes: ["r6i.xlarge"], minNodes: 3, maxNodes: 7, volumeSizeGiB: 100 },
  installKeda: true,
  kedaChartVersion: "2.20.2",
  amiType: "AL2023_x86_64_STANDARD",
  addons: ["vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"],
});

const NODE_POLICIES = [
  "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
  "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
  "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
  "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
];

function assumeRole(service: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: service },
        Action: ["sts:AssumeRole", "sts:TagSession"],
      },
    ],
  });
}

/** Cluster-admin access entries (AmazonEKSClusterAdminPolicy at cluster scope) for `roleArns`. */
function clusterAdmins(
  name: string,
  cluster: aws.eks.Cluster,
  roleArns: readonly string[],
  parent: pulumi.Resource,
): aws.eks.AccessPolicyAssociation[] {
  const partition = aws.getPartitionOutput({}, { parent }).partition;
  return roleArns.map((principalArn, i) => {
    const entry = new aws.eks.AccessEntry(
      `${name}-admin-${i}`,
      { clusterName: cluster.name, principalArn, type: "STANDARD" },
      { parent },
    );
    return new aws.eks.AccessPolicyAssociation(
      `${name}-admin-${i}`,
      {
        clusterName: cluster.name,
        principalArn,
        policyArn: pulumi.interpolate`arn:${partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
        accessScope: { type: "cluster" },
      },
      { parent, dependsOn: [entry] },
    );
  });
}

/**
 * The Kubernetes cluster of a region: EKS with managed node groups on SSD-backed (gp3,
 * encrypted) launch templates that require IMDSv2 — a system pool, a tainted broker pool and
 * one pool per worker class — or an existing cluster reached by kubeconfig. Exposes the
 * Kubernetes provider every Kubernetes object of the region is created with.
 */
export class ComputeCluster extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:compute:ComputeCluster";
  /** Provider for the cluster; pass it to the Kubernetes components. */
  public readonly provider: k8s.Provider;
  public readonly clusterName: pulumi.Output<string>;
  public readonly kubeconfig: pulumi.Output<string>;
  /** The node pools created (empty for an existing cluster). */
  public readonly nodePools: readonly NodePoolPlan[];
  /** Whether workloads should select node pools by label (true only for clusters built here). */
  public readonly managedNodePools: boolean;
  /** The Helm release installing KEDA and its CRDs (`undefined` when `installKeda` is false). */
  public readonly kedaRelease: k8s.helm.v3.Release | undefined;

  constructor(name: string, args: ComputeClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const mode = args.mode ?? COMPUTE_DEFAULTS.mode;
    // Validate before anything is registered.
    if (mode === "existing" && args.kubeconfig === undefined) {
      throw new Error(
        `kubeconfig: missing for mode "existing"; pass the cluster's kubeconfig path or contents`,
      );
    }
    if (mode === "eks" && (args.region === undefined || args.subnetIds === undefined)) {
      throw new Error(`region and subnetIds: required for mode "eks"`);
    }
    const admins = [...new Set(args.adminRoleArns ?? [])];
    const publicAccess = args.endpointPublicAccess ?? COMPUTE_DEFAULTS.endpointPublicAccess;
    if (mode === "eks" && admins.length === 0) {
      throw new Error(
        `adminRoleArns: [] is empty; give at least the role pulumi up runs as (no principal is admitted implicitly)`,
      );
    }
    if (mode === "eks" && publicAccess && (args.publicAccessCidrs ?? []).length === 0) {
      throw new Error(
        `publicAccessCidrs: [] is empty with a public endpoint; list the networks allowed to reach it`,
      );
    }
    super(ComputeCluster.TOKEN, name, {}, opts);
    const installKeda = args.installKeda ?? COMPUTE_DEFAULTS.installKeda;
    if (mode === "existing") {
      this.provider = new k8s.Provider(
        `${name}-k8s`,
        { kubeconfig: args.kubeconfig!, context: args.context, enableServerSideApply: true },
        { parent: this },
      );
      this.clusterName = pulumi.output(args.context ?? "existing");
      this.kubeconfig = pulumi.secret(pulumi.output(args.kubeconfig!));
      this.nodePools = [];
      this.managedNodePools = false;
      this.kedaRelease = installKeda ? this.installKeda(name, args) : undefined;
      this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
      return;
    }
    const region = args.region!;
    const stack = args.stack ?? name;
    const tags = args.tags ?? {};
    const parent = { parent: this };
    this.nodePools = planNodePools({
      system: args.systemPool ?? COMPUTE_DEFAULTS.systemPool,
      broker: args.brokerPool ?? COMPUTE_DEFAULTS.brokerPool,
      workers: args.workerPools ?? [],
    });
    this.managedNodePools = true;

    // IAM names are account-wide: a prefix with the stack, completed by a unique suffix.
    const clusterRole = new aws.iam.Role(
      `${name}-cluster`,
      {
        namePrefix: `${physicalName(stack, "eks-cluster", 37)}-`,
        assumeRolePolicy: assumeRole("eks.amazonaws.com"),
        tags,
      },
      parent,
    );
    const clusterPolicy = new aws.iam.RolePolicyAttachment(
      `${name}-cluster`,
      { role: clusterRole.name, policyArn: "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy" },
      parent,
    );
    const secretsKey = new aws.kms.Key(
      `${name}-secrets`,
      {
        description: `${name}: envelope encryption of Kubernetes secrets`,
        enableKeyRotation: true,
        tags,
      },
      parent,
    );
    const cluster = new aws.eks.Cluster(
      `${name}-eks`,
      {
        name: physicalName(stack, "eks", 100),
        roleArn: clusterRole.arn,
        version: args.kubernetesVersion ?? COMPUTE_DEFAULTS.kubernetesVersion,
        vpcConfig: {
          subnetIds: args.subnetIds!,
          endpointPrivateAccess: true,
          endpointPublicAccess: publicAccess,
          ...(publicAccess ? { publicAccessCidrs: [...(args.publicAccessCidrs ?? [])] } : {}),
        },
        // Access entries only (no aws-auth ConfigMap), and no implicit entry for the creator: an
        // explicit entry for the same principal would fail with 409 ResourceInUseException.
        accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false },
        encryptionConfig: { resources: ["secrets"], provider: { keyArn: secretsKey.arn } },
        enabledClusterLogTypes: ["api", "audit", "authenticator"],
        tags,
      },
      { parent: this, dependsOn: [clusterPolicy] },
    );

    const nodeRole = new aws.iam.Role(
      `${name}-node`,
      {
        namePrefix: `${physicalName(stack, "eks-node", 37)}-`,
        assumeRolePolicy: assumeRole("ec2.amazonaws.com"),
        tags,
      },
      parent,
    );
    const nodePolicies = NODE_POLICIES.map(
      (policyArn, i) =>
        new aws.iam.RolePolicyAttachment(
          `${name}-node-${i}`,
          { role: nodeRole.name, policyArn },
          parent,
        ),
    );

    const groups = this.nodePools.map((pool) => {
      const template = new aws.ec2.LaunchTemplate(
        `${name}-${pool.key}`,
        {
          metadataOptions: { ...IMDS_V2_REQUIRED },
          blockDeviceMappings: [rootVolume(pool.volumeSizeGiB)],
          ebsOptimized: "true",
          tagSpecifications: [
            { resourceType: "instance", tags: { ...tags, Name: `${name}-${pool.key}` } },
          ],
          tags,
        },
        parent,
      );
      return new aws.eks.NodeGroup(
        `${name}-${pool.key}`,
        {
          clusterName: cluster.name,
          nodeRoleArn: nodeRole.arn,
          subnetIds: args.subnetIds!,
          amiType: COMPUTE_DEFAULTS.amiType,
          capacityType: "ON_DEMAND",
          instanceTypes: [...pool.instanceTypes],
          scalingConfig: {
            minSize: pool.minNodes,
            maxSize: pool.maxNodes,
            desiredSize: pool.desiredNodes,
          },
          updateConfig: { maxUnavailable: 1 },
          labels: pool.labels,
          taints: pool.taints.map((t) => ({ ...t })),
          launchTemplate: {
            id: template.id,
            version: pulumi.interpolate`${template.latestVersion}`,
          },
          tags,
        },
        { parent: this, dependsOn: nodePolicies },
      );
    });

    const addons = COMPUTE_DEFAULTS.addons.map(
      (addonName) =>
        new aws.eks.Addon(
          `${name}-${addonName}`,
          {
            clusterName: cluster.name,
            addonName,
            resolveConflictsOnCreate: "OVERWRITE",
            resolveConflictsOnUpdate: "OVERWRITE",
            tags,
          },
          { parent: this, dependsOn: groups },
        ),
    );

    const access = clusterAdmins(name, cluster, admins, this);
    const privateAccess = (args.privateAccessCidrs ?? []).map(
      (cidr, i) =>
        new aws.vpc.SecurityGroupIngressRule(
          `${name}-api-${i}`,
          {
            securityGroupId: cluster.vpcConfig.clusterSecurityGroupId,
            ipProtocol: "tcp",
            fromPort: 443,
            toPort: 443,
            cidrIpv4: cidr,
            description: "Kubernetes API from a deployer network routed to the VPC",
            tags,
          },
          parent,
        ),
    );

    this.clusterName = cluster.name;
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([cluster.name, cluster.endpoint, cluster.certificateAuthority])
        .apply(([clusterName, endpoint, ca]) =>
          eksKubeconfig({ clusterName, endpoint, certificateAuthorityData: ca.data ?? "", region }),
        ),
    );
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig: this.kubeconfig, enableServerSideApply: true },
      // Kubernetes calls need the deployer's access entry (else 401) and, for a private
      // endpoint, the path to it.
      { parent: this, dependsOn: [...groups, ...addons, ...access, ...privateAccess] },
    );
    this.kedaRelease = installKeda ? this.installKeda(name, args) : undefined;
    this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
  }

  private installKeda(name: string, args: ComputeClusterArgs): k8s.helm.v3.Release {
    return new k8s.helm.v3.Release(
      `${name}-keda`,
      {
        chart: "keda",
        version: args.kedaChartVersion ?? COMPUTE_DEFAULTS.kedaChartVersion,
        repositoryOpts: { repo: "https://kedacore.github.io/charts" },
        namespace: "keda",
        createNamespace: true,
        values: this.managedNodePools ? { nodeSelector: { "taskfleet.io/pool": "system" } } : {},
      },
      { parent: this, provider: this.provider },
    );
  }
}
