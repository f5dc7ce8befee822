/**
 * The policy pack's policies, called with crafted resources the way the engine calls them: exact
 * violation messages for bad resources, none for good ones, and none for what the Monitoring
 * component really registers.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  brokerNetworkPolicy,
  brokerOddNodeCount,
  brokerStorageSsd,
  encryptionAtRest,
  imdsV2Required,
  noPublicBrokerOrRedisIngress,
  podsRestricted,
  POLICIES,
  redisTlsInTransit,
  T,
} from "../../policy/policies.js";
import { checkResource, checkStack, urnOf, type Fixture } from "./harness.js";
import { mocked } from "../components/support.js";

const BROKER_POD_LABELS = {
  "app.kubernetes.io/name": "rabbitmq",
  "app.kubernetes.io/component": "broker",
  "app.kubernetes.io/instance": "tf-broker",
  "app.kubernetes.io/part-of": "taskfleet",
};

const restrictedPod = (containers: Record<string, unknown>[]) => ({
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 999,
    seccompProfile: { type: "RuntimeDefault" },
  },
  containers,
});
const safeContainer = (name: string) => ({
  name,
  image: "rabbitmq:3.10",
  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
});

function brokerSts(
  opts: { replicas?: number; storageClassName?: string | null; claims?: boolean } = {},
): Fixture {
  const claim: Record<string, unknown> = {
    metadata: { name: "data" },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "500Gi" } },
      ...(opts.storageClassName === null
        ? {}
        : { storageClassName: opts.storageClassName ?? "taskfleet-broker-gp3" }),
    },
  };
  return {
    type: T.statefulSet,
    name: "tf-broker",
    props: {
      metadata: { name: "tf-broker", namespace: "taskfleet", labels: BROKER_POD_LABELS },
      spec: {
        replicas: opts.replicas ?? 5,
        selector: { matchLabels: { "app.kubernetes.io/name": "rabbitmq" } },
        template: {
          metadata: { labels: BROKER_POD_LABELS },
          spec: restrictedPod([safeContainer("rabbitmq")]),
        },
        ...(opts.claims === false ? {} : { volumeClaimTemplates: [claim] }),
      },
    },
  };
}

const storageClass = (name: string, type: string, provisioner = "ebs.csi.aws.com"): Fixture => ({
  type: T.storageClass,
  name,
  props: { metadata: { name }, provisioner, parameters: { type, encrypted: "true" } },
});

const netpol = (matchLabels: Record<string, string>, namespace = "taskfleet"): Fixture => ({
  type: T.networkPolicy,
  name: "tf-broker-netpol",
  props: {
    metadata: { name: "tf-broker", namespace },
    spec: { podSelector: { matchLabels }, policyTypes: ["Ingress"], ingress: [] },
  },
});

describe("the pack", () => {
  it("lists every policy once, all mandatory", () => {
    expect(POLICIES.map((p) => [p.name, p.enforcementLevel])).toEqual([
      ["eks-public-endpoint-restricted", "mandatory"],
      ["broker-storage-ssd", "mandatory"],
      ["broker-odd-node-count", "mandatory"],
      ["broker-network-policy", "mandatory"],
      ["encryption-at-rest", "mandatory"],
      ["redis-tls-in-transit", "mandatory"],
      ["no-public-broker-or-redis-ingress", "mandatory"],
      ["imdsv2-required", "mandatory"],
      ["pods-restricted", "mandatory"],
      ["api-exposure", "mandatory"],
    ]);
  });
});

describe("broker-odd-node-count", () => {
  it.each([3, 5, 7])("accepts %i nodes", async (n) => {
    expect(await checkResource(brokerOddNodeCount, brokerSts({ replicas: n }))).toEqual([]);
  });
  it.each([
    [4, "StatefulSet tf-broker runs 4 broker nodes; use an odd count from 3 to 7 (5 recommended)"],
    [1, "StatefulSet tf-broker runs 1 broker node; use an odd count from 3 to 7 (5 recommended)"],
    [9, "StatefulSet tf-broker runs 9 broker nodes; use an odd count from 3 to 7 (5 recommended)"],
  ])("rejects %i nodes", async (n, msg) => {
    expect(await checkResource(brokerOddNodeCount, brokerSts({ replicas: n }))).toEqual([msg]);
  });
  it("ignores StatefulSets without the broker label", async () => {
    const other = brokerSts({ replicas: 2 });
    other.props = { ...other.props, metadata: { name: "pg" }, spec: { replicas: 2, template: {} } };
    expect(await checkResource(brokerOddNodeCount, other)).toEqual([]);
  });
});

describe("broker-storage-ssd", () => {
  it("accepts broker claims on a gp3 or io2 class from the stack, or a class named gp3/io1/io2", async () => {
    for (const [cls, type] of [
      ["taskfleet-broker-gp3", "gp3"],
      ["taskfleet-broker-io2", "io2"],
    ] as const) {
      expect(
        await checkStack(brokerStorageSsd, [
          storageClass(cls, type),
          brokerSts({ storageClassName: cls }),
        ]),
      ).toEqual([]);
    }
    expect(await checkStack(brokerStorageSsd, [brokerSts({ storageClassName: "io1" })])).toEqual(
      [],
    );
  });
  it("rejects HDD or gp2 classes, unknown classes, the cluster default and missing volumes", async () => {
    const sts = urnOf(T.statefulSet, "tf-broker");
    expect(
      await checkStack(brokerStorageSsd, [
        storageClass("slow", "st1"),
        brokerSts({ storageClassName: "slow" }),
      ]),
    ).toEqual([
      {
        message:
          'StatefulSet tf-broker: volume claim "data" uses StorageClass "slow" with EBS type "st1"; use gp3, io1 or io2',
        urn: sts,
      },
    ]);
    expect(
      await checkStack(brokerStorageSsd, [
        storageClass("nfs", "gp3", "nfs.csi.k8s.io"),
        brokerSts({ storageClassName: "nfs" }),
      ]),
    ).toEqual([
      {
        message:
          'StatefulSet tf-broker: volume claim "data" uses StorageClass "nfs" with provisioner "nfs.csi.k8s.io"; use the EBS CSI driver (ebs.csi.aws.com) with type gp3, io1 or io2',
        urn: sts,
      },
    ]);
    expect(await checkStack(brokerStorageSsd, [brokerSts({ storageClassName: "gp2" })])).toEqual([
      {
        message:
          'StatefulSet tf-broker: volume claim "data" uses StorageClass "gp2", which is neither defined in this stack nor named gp3, io1 or io2',
        urn: sts,
      },
    ]);
    expect(await checkStack(brokerStorageSsd, [brokerSts({ storageClassName: null })])).toEqual([
      {
        message:
          'StatefulSet tf-broker: volume claim "data" sets no storageClassName (the cluster default may not be SSD); use an SSD class (gp3, io1 or io2)',
        urn: sts,
      },
    ]);
    expect(await checkStack(brokerStorageSsd, [brokerSts({ claims: false })])).toEqual([
      {
        message:
          "StatefulSet tf-broker has no volumeClaimTemplates; broker data must live on SSD persistent volumes (gp3, io1 or io2)",
        urn: sts,
      },
    ]);
  });
});

describe("broker-network-policy", () => {
  it("accepts a broker whose pods an Ingress NetworkPolicy in its namespace selects", async () => {
    expect(
      await checkStack(brokerNetworkPolicy, [
        brokerSts(),
        netpol({ "app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/instance": "tf-broker" }),
      ]),
    ).toEqual([]);
  });
  it("rejects a broker with no policy, a policy for other pods, or one in another namespace", async () => {
    const msg =
      "StatefulSet tf-broker (broker) has no NetworkPolicy selecting its pods; add an Ingress NetworkPolicy that admits only workers, the task API, its peers and other regions' federation links";
    const expected = [{ message: msg, urn: urnOf(T.statefulSet, "tf-broker") }];
    expect(await checkStack(brokerNetworkPolicy, [brokerSts()])).toEqual(expected);
    expect(
      await checkStack(brokerNetworkPolicy, [
        brokerSts(),
        netpol({ "app.kubernetes.io/name": "redis" }),
      ]),
    ).toEqual(expected);
    expect(
      await checkStack(brokerNetworkPolicy, [
        brokerSts(),
        netpol({ "app.kubernetes.io/name": "rabbitmq" }, "default"),
      ]),
    ).toEqual(expected);
  });
});

describe("encryption-at-rest", () => {
  const good: Fixture[] = [
    { type: T.ebsVolume, name: "vol", props: { encrypted: true, type: "gp3" } },
    {
      type: T.launchTemplate,
      name: "lt",
      props: {
        blockDeviceMappings: [
          { deviceName: "/dev/xvda", ebs: { encrypted: "true", volumeType: "gp3" } },
        ],
      },
    },
    {
      type: T.replicationGroup,
      name: "redis",
      props: { atRestEncryptionEnabled: true, transitEncryptionEnabled: true },
    },
    { type: T.openSearchDomain, name: "events", props: { encryptAtRest: { enabled: true } } },
    { type: T.s3Bucket, name: "archive", props: { bucket: "tf-archive" } },
    {
      type: T.s3Sse,
      name: "archive-sse",
      props: { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } }] },
      dependsOn: { bucket: ["archive"] },
    },
  ];
  it("accepts encrypted volumes, block devices, Redis, OpenSearch and an S3 bucket with SSE", async () => {
    expect(await checkStack(encryptionAtRest, good)).toEqual([]);
  });
  it("accepts an S3 bucket whose SSE configuration names it by bucket name", async () => {
    expect(
      await checkStack(encryptionAtRest, [
        { type: T.s3Bucket, name: "b", props: { bucket: "tf-b" } },
        { type: T.s3Sse, name: "b-sse", props: { bucket: "tf-b", rules: [] } },
      ]),
    ).toEqual([]);
  });
  it("rejects each unencrypted resource with its own message", async () => {
    const bad: Fixture[] = [
      { type: T.ebsVolume, name: "vol", props: { type: "gp3" } },
      {
        type: T.launchTemplate,
        name: "lt",
        props: { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "false" } }] },
      },
      { type: T.replicationGroup, name: "redis", props: { transitEncryptionEnabled: true } },
      { type: T.openSearchDomain, name: "events", props: { encryptAtRest: { enabled: false } } },
      { type: T.s3Bucket, name: "archive", props: { bucket: "tf-archive" } },
    ];
    expect((await checkStack(encryptionAtRest, bad)).map((v) => v.message)).toEqual([
      "EBS volume vol is not encrypted; set encrypted: true",
      'launch template lt: block device /dev/xvda is not encrypted; set ebs.encrypted to "true"',
      "ElastiCache replication group redis is not encrypted at rest; set atRestEncryptionEnabled: true",
      "OpenSearch domain events is not encrypted at rest; set encryptAtRest.enabled: true",
      "S3 bucket archive has no server-side encryption configuration; add a BucketServerSideEncryptionConfiguration (aws:kms or AES256)",
    ]);
  });
});

describe("redis-tls-in-transit", () => {
  const rg = (props: Record<string, unknown>): Fixture => ({
    type: T.replicationGroup,
    name: "results",
    props,
  });
  it("accepts TLS in transit, and a Global Datastore secondary (it inherits the primary's)", async () => {
    expect(await checkResource(redisTlsInTransit, rg({ transitEncryptionEnabled: true }))).toEqual(
      [],
    );
    expect(
      await checkResource(redisTlsInTransit, rg({ globalReplicationGroupId: "ldgnf-x" })),
    ).toEqual([]);
  });
  it("rejects plain text and the 'preferred' migration mode", async () => {
    expect(await checkResource(redisTlsInTransit, rg({ transitEncryptionEnabled: false }))).toEqual(
      [
        "ElastiCache replication group results does not encrypt in transit; set transitEncryptionEnabled: true",
      ],
    );
    expect(
      await checkResource(
        redisTlsInTransit,
        rg({ transitEncryptionEnabled: true, transitEncryptionMode: "preferred" }),
      ),
    ).toEqual([
      'ElastiCache replication group results accepts plain-text clients (transitEncryptionMode "preferred"); use "required"',
    ]);
  });
});

describe("no-public-broker-or-redis-ingress", () => {
  const sg = (ingress: Record<string, unknown>[]): Fixture => ({
    type: T.securityGroup,
    name: "sg",
    props: { ingress },
  });
  const tail = "brokers and Redis must only be reachable from inside the VPC";
  it("accepts VPC-only access to the protected ports and public access to others", async () => {
    expect(
      await checkResource(
        noPublicBrokerOrRedisIngress,
        sg([
          { protocol: "tcp", fromPort: 5671, toPort: 5672, cidrBlocks: ["10.0.0.0/16"] },
          { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
        ]),
      ),
    ).toEqual([]);
  });
  it("rejects 0.0.0.0/0 and ::/0 on 5671, 5672, 6379 and 15672 in every rule form", async () => {
    expect(
      await checkResource(
        noPublicBrokerOrRedisIngress,
        sg([{ protocol: "tcp", fromPort: 5672, toPort: 5672, cidrBlocks: ["0.0.0.0/0"] }]),
      ),
    ).toEqual([`security group sg: ingress from the internet reaches port 5672 (AMQP); ${tail}`]);
    expect(
      await checkResource(
        noPublicBrokerOrRedisIngress,
        sg([{ protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] }]),
      ),
    ).toEqual([
      `security group sg: ingress from the internet reaches port 5671 (AMQPS); ${tail}`,
      `security group sg: ingress from the internet reaches port 5672 (AMQP); ${tail}`,
      `security group sg: ingress from the internet reaches port 6379 (Redis); ${tail}`,
      `security group sg: ingress from the internet reaches port 15672 (RabbitMQ management); ${tail}`,
    ]);
    expect(
      await checkResource(noPublicBrokerOrRedisIngress, {
        type: T.securityGroupRule,
        name: "rule",
        props: {
          type: "ingress",
          protocol: "tcp",
          fromPort: 6379,
          toPort: 6380,
          cidrBlocks: ["0.0.0.0/0"],
        },
      }),
    ).toEqual([
      `security group rule rule: ingress from the internet reaches port 6379 (Redis); ${tail}`,
    ]);
    expect(
      await checkResource(noPublicBrokerOrRedisIngress, {
        type: T.ingressRule,
        name: "in",
        props: { ipProtocol: "tcp", fromPort: 15672, toPort: 15672, cidrIpv4: "0.0.0.0/0" },
      }),
    ).toEqual([
      `security group ingress rule in: ingress from the internet reaches port 15672 (RabbitMQ management); ${tail}`,
    ]);
  });
  it("rejects an internet-facing broker load balancer and accepts an internal one", async () => {
    const svc = (annotations: Record<string, string>): Fixture => ({
      type: T.service,
      name: "tf-broker-lb",
      props: {
        metadata: { name: "tf-broker-lb", annotations },
        spec: { type: "LoadBalancer", selector: BROKER_POD_LABELS },
      },
    });
    expect(await checkResource(noPublicBrokerOrRedisIngress, svc({}))).toEqual([
      "Service tf-broker-lb exposes the brokers through an internet-facing load balancer; annotate it service.beta.kubernetes.io/aws-load-balancer-scheme: internal",
    ]);
    expect(
      await checkResource(
        noPublicBrokerOrRedisIngress,
        svc({ "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal" }),
      ),
    ).toEqual([]);
  });
});

describe("imdsv2-required", () => {
  const lt = (metadataOptions?: Record<string, unknown>): Fixture => ({
    type: T.launchTemplate,
    name: "nodes",
    props: metadataOptions ? { metadataOptions } : {},
  });
  it("accepts httpTokens required with a hop limit of 2", async () => {
    expect(
      await checkResource(
        imdsV2Required,
        lt({ httpTokens: "required", httpPutResponseHopLimit: 2 }),
      ),
    ).toEqual([]);
  });
  it("rejects optional or missing tokens and a hop limit above 2", async () => {
    expect(await checkResource(imdsV2Required, lt({ httpTokens: "optional" }))).toEqual([
      'launch template nodes: metadataOptions.httpTokens is "optional"; set it to "required" (IMDSv2)',
    ]);
    expect(await checkResource(imdsV2Required, lt())).toEqual([
      'launch template nodes: metadataOptions.httpTokens is null; set it to "required" (IMDSv2)',
    ]);
    expect(
      await checkResource(
        imdsV2Required,
        lt({ httpTokens: "required", httpPutResponseHopLimit: 3 }),
      ),
    ).toEqual([
      "launch template nodes: metadataOptions.httpPutResponseHopLimit is 3; use at most 2",
    ]);
  });
});

describe("pods-restricted", () => {
  it("accepts restricted pods in every workload kind", async () => {
    expect(await checkResource(podsRestricted, brokerSts())).toEqual([]);
    const cron: Fixture = {
      type: T.cronJob,
      name: "archive",
      props: {
        metadata: { name: "archive" },
        spec: {
          jobTemplate: { spec: { template: { spec: restrictedPod([safeContainer("archive")]) } } },
        },
      },
    };
    expect(await checkResource(podsRestricted, cron)).toEqual([]);
  });
  it("reports root, privilege escalation, privileged and kept capabilities per container", async () => {
    const dep: Fixture = {
      type: T.deployment,
      name: "api",
      props: {
        metadata: { name: "tf-api" },
        spec: {
          template: {
            spec: {
              initContainers: [
                {
                  name: "init",
                  securityContext: {
                    runAsNonRoot: true,
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ["ALL"] },
                  },
                },
              ],
              containers: [
                {
                  name: "api",
                  securityContext: { privileged: true, capabilities: { drop: ["NET_RAW"] } },
                },
              ],
            },
          },
        },
      },
    };
    expect(await checkResource(podsRestricted, dep)).toEqual([
      'Deployment tf-api: container "api" may run as root; set runAsNonRoot: true',
      'Deployment tf-api: container "api" allows privilege escalation; set allowPrivilegeEscalation: false',
      'Deployment tf-api: container "api" is privileged; remove privileged: true',
      'Deployment tf-api: container "api" keeps Linux capabilities; set capabilities.drop: ["ALL"]',
    ]);
  });
  it("lets a container override the pod's runAsNonRoot", async () => {
    const pod: Fixture = {
      type: T.pod,
      name: "p",
      props: {
        metadata: { name: "p" },
        spec: restrictedPod([
          {
            ...safeContainer("c"),
            securityContext: { ...safeContainer("c").securityContext, runAsNonRoot: false },
          },
        ]),
      },
    };
    expect(await checkResource(podsRestricted, pod)).toEqual([
      'Pod p: container "c" may run as root; set runAsNonRoot: true',
    ]);
  });
});

describe("the pack against what the Monitoring component registers (mocks)", () => {
  let fixtures: Fixture[];
  beforeAll(async () => {
    const engine = await mocked();
    const { Monitoring } = await import("../../components/monitoring/monitoring.js");
    new Monitoring("mon", {
      namespace: "monitoring",
      region: "us-east-1",
      expectedBrokerNodes: 5,
      brokers: { namespace: "taskfleet" },
      workers: { namespace: "taskfleet" },
      api: { namespace: "taskfleet" },
      redis: { address: "clustercfg.mock:6379", authToken: "t" },
    });
    await engine.settle();
    fixtures = engine.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
  });
  it("has no violation", async () => {
    expect(fixtures.length).toBeGreaterThan(10);
    for (const policy of POLICIES) {
      if ("validateStack" in policy) {
        expect(await checkStack(policy, fixtures), policy.name).toEqual([]);
      } else {
        for (const f of fixtures)
          expect(await checkResource(policy, f), `${policy.name} ${f.name}`).toEqual([]);
      }
    }
  });
});
