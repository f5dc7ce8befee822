/**
 * taskfleet's CrossGuard policies (seed S3, S12, S18 and the security baselines of the
 * reliability anchors). Resources are matched by their Pulumi type token, so the pack does not
 * load the AWS or Kubernetes SDKs. Every violation message names the resource, what is wrong and
 * what is allowed. `index.ts` puts them in a mandatory PolicyPack; tests call them directly.
 */
import type {
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { eksPublicEndpointRestricted } from "./eksPolicies.js";

import { apiExposure } from "./apiExposure.js";

type Props = Record<string, unknown>;

export const T = {
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  deployment: "kubernetes:apps/v1:Deployment",
  daemonSet: "kubernetes:apps/v1:DaemonSet",
  replicaSet: "kubernetes:apps/v1:ReplicaSet",
  job: "kubernetes:batch/v1:Job",
  cronJob: "kubernetes:batch/v1:CronJob",
  pod: "kubernetes:core/v1:Pod",
  service: "kubernetes:core/v1:Service",
  storageClass: "kubernetes:storage.k8s.io/v1:StorageClass",
  networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  ebsVolume: "aws:ebs/volume:Volume",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  instance: "aws:ec2/instance:Instance",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  replicationGroup: "aws:elasticache/replicationGroup:ReplicationGroup",
  openSearchDomain: "aws:opensearch/domain:Domain",
  s3Bucket: "aws:s3/bucket:Bucket",
  s3BucketV2: "aws:s3/bucketV2:BucketV2",
  s3Sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  s3SseV2:
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
} as const;

/** The label that marks taskfleet's RabbitMQ pods (set by the broker generator). */
export const BROKER_LABEL = { key: "app.kubernetes.io/component", value: "broker" } as const;
/** EBS volume types that are SSD-backed and fit a broker (S18). */
export const SSD_VOLUME_TYPES: readonly string[] = ["gp3", "io1", "io2"];
/** Ports that must never be open to the internet. */
export const PROTECTED_PORTS: Readonly<Record<number, string>> = {
  5671: "AMQPS",
  5672: "AMQP",
  6379: "Redis",
  15672: "RabbitMQ management",
};

const obj = (v: unknown): Props =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Props) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const isTrue = (v: unknown): boolean => v === true || v === "true";

function labelsOf(props: Props): Record<string, unknown> {
  return {
    ...obj(obj(props.metadata).labels),
    ...obj(obj(obj(obj(props.spec).template).metadata).labels),
  };
}

/** A StatefulSet carrying the taskfleet broker label. */
export function isBrokerStatefulSet(type: string, props: Props): boolean {
  return type === T.statefulSet && labelsOf(props)[BROKER_LABEL.key] === BROKER_LABEL.value;
}

function k8sName(props: Props, fallback: string): string {
  return str(obj(props.metadata).name) ?? fallback;
}

// ---------------------------------------------------------------- brokers

export const brokerOddNodeCount: ResourceValidationPolicy = {
  name: "broker-odd-node-count",
  description: "RabbitMQ runs an odd number of nodes from 3 to 7 (quorum needs a majority; S13).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!isBrokerStatefulSet(args.type, args.props)) return;
    const replicas = obj(args.props.spec).replicas;
    const n = typeof replicas === "number" ? replicas : 1;
    if (n < 3 || n > 7 || n % 2 === 0) {
      report(
        `StatefulSet ${k8sName(args.props, args.name)} runs ${n} broker node${n === 1 ? "" : "s"}; use an odd count from 3 to 7 (5 recommended)`,
      );
    }
  },
};

function storageClassVerdict(
  className: string | undefined,
  classes: ReadonlyMap<string, Props>,
): string | undefined {
  if (className === undefined) {
    return "sets no storageClassName (the cluster default may not be SSD); use an SSD class (gp3, io1 or io2)";
  }
  const sc = classes.get(className);
  if (!sc) {
    return SSD_VOLUME_TYPES.includes(className)
      ? undefined
      : `uses StorageClass "${className}", which is neither defined in this stack nor named gp3, io1 or io2`;
  }
  const provisioner = str(sc.provisioner);
  const type = str(obj(sc.parameters).type);
  if (provisioner !== "ebs.csi.aws.com" && provisioner !== "kubernetes.io/aws-ebs") {
    return `uses StorageClass "${className}" with provisioner ${JSON.stringify(provisioner ?? null)}; use the EBS CSI driver (ebs.csi.aws.com) with type gp3, io1 or io2`;
  }
  if (type === undefined || !SSD_VOLUME_TYPES.includes(type)) {
    return `uses StorageClass "${className}" with EBS type ${JSON.stringify(type ?? null)}; use gp3, io1 or io2`;
  }
  return undefined;
}

export const brokerStorageSsd: StackValidationPolicy = {
  name: "broker-storage-ssd",
  description: "Broker volumes use SSD StorageClasses: EBS gp3, io1 or io2 (S18).",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const classes = new Map<string, Props>();
    for (const r of args.resources) {
      if (r.type === T.storageClass) classes.set(k8sName(r.props, r.name), r.props);
    }
    for (const r of args.resources) {
      if (!isBrokerStatefulSet(r.type, r.props)) continue;
      const name = k8sName(r.props, r.name);
      const claims = arr(obj(r.props.spec).volumeClaimTemplates);
      if (claims.length === 0) {
        report(
          `StatefulSet ${name} has no volumeClaimTemplates; broker data must live on SSD persistent volumes (gp3, io1 or io2)`,
          r.urn,
        );
        continue;
      }
      for (const c of claims) {
        const claim = obj(c);
        const verdict = storageClassVerdict(str(obj(claim.spec).storageClassName), classes);
        if (verdict) {
          report(
            `StatefulSet ${name}: volume claim "${str(obj(claim.metadata).name) ?? "?"}" ${verdict}`,
            r.urn,
          );
        }
      }
    }
  },
};

function selects(selector: Props, podLabels: Record<string, unknown>): boolean {
  const match = obj(selector.matchLabels);
  const exprs = arr(selector.matchExpressions);
  return exprs.length === 0 && Object.entries(match).every(([k, v]) => podLabels[k] === v);
}

export const brokerNetworkPolicy: StackValidationPolicy = {
  name: "broker-network-policy",
  description:
    "Every broker StatefulSet's pods are selected by an Ingress NetworkPolicy in its namespace.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const policies = args.resources.filter((r) => r.type === T.networkPolicy);
    for (const r of args.resources) {
      if (!isBrokerStatefulSet(r.type, r.props)) continue;
      const ns = str(obj(r.props.metadata).namespace);
      const podLabels = obj(obj(obj(obj(r.props.spec).template).metadata).labels);
      const covered = policies.some((p) => {
        const pns = str(obj(p.props.metadata).namespace);
        const spec = obj(p.props.spec);
        const types = arr(spec.policyTypes);
        const ingress = types.length === 0 || types.includes("Ingress");
        return (
          (pns === ns || pns === undefined || ns === undefined) &&
          ingress &&
          selects(obj(spec.podSelector), podLabels)
        );
      });
      if (!covered) {
        report(
          `StatefulSet ${k8sName(r.props, r.name)} (broker) has no NetworkPolicy selecting its pods; add an Ingress NetworkPolicy that admits only workers, the task API, its peers and other regions' federation links`,
          r.urn,
        );
      }
    }
  },
};

// ---------------------------------------------------------------- encryption at rest

function blockDeviceViolations(kind: string, name: string, mappings: unknown[]): string[] {
  const out: string[] = [];
  for (const m of mappings) {
    const mapping = obj(m);
    const ebs = mapping.ebs === undefined ? undefined : obj(mapping.ebs);
    if (ebs && !isTrue(ebs.encrypted)) {
      out.push(
        `${kind} ${name}: block device ${str(mapping.deviceName) ?? "?"} is not encrypted; set ebs.encrypted to "true"`,
      );
    }
  }
  return out;
}

export const encryptionAtRest: StackValidationPolicy = {
  name: "encryption-at-rest",
  description:
    "EBS volumes and launch-template block devices, ElastiCache replication groups, OpenSearch domains and S3 buckets are encrypted at rest.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const sse = args.resources.filter((r) => r.type === T.s3Sse || r.type === T.s3SseV2);
    for (const r of args.resources) {
      const p = r.props;
      switch (r.type) {
        case T.ebsVolume:
          if (!isTrue(p.encrypted))
            report(`EBS volume ${r.name} is not encrypted; set encrypted: true`, r.urn);
          break;
        case T.launchTemplate:
          for (const v of blockDeviceViolations(
            "launch template",
            r.name,
            arr(p.blockDeviceMappings),
          )) {
            report(v, r.urn);
          }
          break;
        case T.replicationGroup:
          // A Global Datastore secondary inherits encryption from the primary group.
          if (!isTrue(p.atRestEncryptionEnabled) && p.globalReplicationGroupId === undefined) {
            report(
              `ElastiCache replication group ${r.name} is not encrypted at rest; set atRestEncryptionEnabled: true`,
              r.urn,
            );
          }
          break;
        case T.openSearchDomain:
          if (!isTrue(obj(p.encryptAtRest).enabled)) {
            report(
              `OpenSearch domain ${r.name} is not encrypted at rest; set encryptAtRest.enabled: true`,
              r.urn,
            );
          }
          break;
        case T.s3Bucket:
        case T.s3BucketV2: {
          const inline =
            arr(obj(p.serverSideEncryptionConfiguration).rules).length > 0 ||
            obj(p.serverSideEncryptionConfiguration).rule !== undefined;
          const separate = sse.some(
            (s) =>
              (s.propertyDependencies?.bucket ?? []).some((d) => d.urn === r.urn) ||
              (s.props.bucket !== undefined &&
                (s.props.bucket === p.bucket || s.props.bucket === p.id)),
          );
          if (!inline && !separate) {
            report(
              `S3 bucket ${r.name} has no server-side encryption configuration; add a BucketServerSideEncryptionConfiguration (aws:kms or AES256)`,
              r.urn,
            );
          }
          break;
        }
      }
    }
  },
};

// ---------------------------------------------------------------- Redis in transit

export const redisTlsInTransit: ResourceValidationPolicy = {
  name: "redis-tls-in-transit",
  description: "The Redis result backend requires TLS in transit (S29).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== T.replicationGroup) return;
    const p = args.props;
    if (!isTrue(p.transitEncryptionEnabled) && p.globalReplicationGroupId === undefined) {
      report(
        `ElastiCache replication group ${args.name} does not encrypt in transit; set transitEncryptionEnabled: true`,
      );
    } else if (p.transitEncryptionMode === "preferred") {
      report(
        `ElastiCache replication group ${args.name} accepts plain-text clients (transitEncryptionMode "preferred"); use "required"`,
      );
    }
  },
};

// ---------------------------------------------------------------- public ingress

const OPEN_V4 = "0.0.0.0/0";
const OPEN_V6 = "::/0";

function exposedPorts(protocol: unknown, from: unknown, to: unknown): number[] {
  const proto = String(protocol ?? "tcp").toLowerCase();
  const all = proto === "-1" || proto === "all";
  if (!all && proto !== "tcp" && proto !== "6") return [];
  const lo = all ? 0 : Number(from ?? 0);
  const hi = all ? 65535 : Number(to ?? from ?? 65535);
  return Object.keys(PROTECTED_PORTS)
    .map(Number)
    .filter((port) => port >= lo && port <= hi);
}

function openReport(what: string, ports: number[], report: ReportViolation): void {
  for (const port of ports) {
    report(
      `${what}: ingress from the internet reaches port ${port} (${PROTECTED_PORTS[port]}); brokers and Redis must only be reachable from inside the VPC`,
    );
  }
}

export const noPublicBrokerOrRedisIngress: ResourceValidationPolicy = {
  name: "no-public-broker-or-redis-ingress",
  description:
    "No security group admits 0.0.0.0/0 or ::/0 to 5671, 5672, 6379 or 15672, and no broker Service is an internet-facing load balancer.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const p = args.props;
    const open = (cidrs: unknown, v6: unknown): boolean =>
      arr(cidrs).includes(OPEN_V4) || arr(v6).includes(OPEN_V6);
    switch (args.type) {
      case T.securityGroup:
        for (const rule of arr(p.ingress).map(obj)) {
          if (open(rule.cidrBlocks, rule.ipv6CidrBlocks)) {
            openReport(
              `security group ${args.name}`,
              exposedPorts(rule.protocol, rule.fromPort, rule.toPort),
              report,
            );
          }
        }
        break;
      case T.securityGroupRule:
        if (p.type === "ingress" && open(p.cidrBlocks, p.ipv6CidrBlocks)) {
          openReport(
            `security group rule ${args.name}`,
            exposedPorts(p.protocol, p.fromPort, p.toPort),
            report,
          );
        }
        break;
      case T.ingressRule:
        if (p.cidrIpv4 === OPEN_V4 || p.cidrIpv6 === OPEN_V6) {
          openReport(
            `security group ingress rule ${args.name}`,
            exposedPorts(p.ipProtocol, p.fromPort, p.toPort),
            report,
          );
        }
        break;
      case T.service: {
        const spec = obj(p.spec);
        if (spec.type !== "LoadBalancer") break;
        if (obj(spec.selector)[BROKER_LABEL.key] !== BROKER_LABEL.value) break;
        const ann = obj(obj(p.metadata).annotations);
        const internal =
          ann["service.beta.kubernetes.io/aws-load-balancer-scheme"] === "internal" ||
          isTrue(ann["service.beta.kubernetes.io/aws-load-balancer-internal"]);
        if (!internal) {
          report(
            `Service ${k8sName(p, args.name)} exposes the brokers through an internet-facing load balancer; annotate it service.beta.kubernetes.io/aws-load-balancer-scheme: internal`,
          );
        }
        break;
      }
    }
  },
};

// ---------------------------------------------------------------- IMDSv2

export const imdsV2Required: ResourceValidationPolicy = {
  name: "imdsv2-required",
  description:
    "Launch templates and instances require IMDSv2 (httpTokens required, hop limit at most 2).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== T.launchTemplate && args.type !== T.instance) return;
    const kind = args.type === T.launchTemplate ? "launch template" : "instance";
    const m = obj(args.props.metadataOptions);
    if (m.httpTokens !== "required") {
      report(
        `${kind} ${args.name}: metadataOptions.httpTokens is ${JSON.stringify(m.httpTokens ?? null)}; set it to "required" (IMDSv2)`,
      );
    }
    const hops = m.httpPutResponseHopLimit;
    if (typeof hops === "number" && hops > 2) {
      report(
        `${kind} ${args.name}: metadataOptions.httpPutResponseHopLimit is ${hops}; use at most 2`,
      );
    }
  },
};

// ---------------------------------------------------------------- restricted pods

const WORKLOADS: Record<string, (props: Props) => Props | undefined> = {
  [T.pod]: (p) => obj(p.spec),
  [T.deployment]: (p) => obj(obj(obj(p.spec).template).spec),
  [T.statefulSet]: (p) => obj(obj(obj(p.spec).template).spec),
  [T.daemonSet]: (p) => obj(obj(obj(p.spec).template).spec),
  [T.replicaSet]: (p) => obj(obj(obj(p.spec).template).spec),
  [T.job]: (p) => obj(obj(obj(p.spec).template).spec),
  [T.cronJob]: (p) => obj(obj(obj(obj(obj(obj(p.spec).jobTemplate).spec).template).spec)),
};

/** Kind of a workload type token (`kubernetes:apps/v1:Deployment` → `Deployment`). */
function kindOf(type: string): string {
  return type.slice(type.lastIndexOf(":") + 1);
}

export const podsRestricted: ResourceValidationPolicy = {
  name: "pods-restricted",
  description:
    "Every container runs as non-root, without privilege escalation, unprivileged, with all capabilities dropped.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const specOf = WORKLOADS[args.type];
    if (!specOf) return;
    const pod = specOf(args.props) ?? {};
    const what = `${kindOf(args.type)} ${k8sName(args.props, args.name)}`;
    const podNonRoot = isTrue(obj(pod.securityContext).runAsNonRoot);
    const containers = [...arr(pod.initContainers), ...arr(pod.containers)].map(obj);
    for (const c of containers) {
      const sc = obj(c.securityContext);
      const cname = str(c.name) ?? "?";
      const nonRoot = sc.runAsNonRoot === undefined ? podNonRoot : isTrue(sc.runAsNonRoot);
      if (!nonRoot) {
        report(`${what}: container "${cname}" may run as root; set runAsNonRoot: true`);
      }
      if (sc.allowPrivilegeEscalation !== false) {
        report(
          `${what}: container "${cname}" allows privilege escalation; set allowPrivilegeEscalation: false`,
        );
      }
      if (isTrue(sc.privileged)) {
        report(`${what}: container "${cname}" is privileged; remove privileged: true`);
      }
      if (!arr(obj(sc.capabilities).drop).includes("ALL")) {
        report(
          `${what}: container "${cname}" keeps Linux capabilities; set capabilities.drop: ["ALL"]`,
        );
      }
    }
  },
};

/** Every policy of the pack, in the order the pack lists them. */
export const POLICIES: (ResourceValidationPolicy | StackValidationPolicy)[] = [
  eksPublicEndpointRestricted,
  brokerStorageSsd,
  brokerOddNodeCount,
  brokerNetworkPolicy,
  encryptionAtRest,
  redisTlsInTransit,
  noPublicBrokerOrRedisIngress,
  imdsV2Required,
  podsRestricted,
  apiExposure,
];

export type { PolicyResource, ResourceValidationArgs, StackValidationArgs };
