/**
 * The whole three-region program, each prod stack's config through the entry program (index.ts)
 * under Pulumi's mocks, as `taskfleet plan` runs it; plus the dev stack on an existing cluster.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { validateStackFolder, type PlanResult } from "../../cli/plan.js";
import { cachedPlan } from "../support/plans.js";
import { validateK8s } from "../components/k8sSchema.js";
import { at, find, ofType } from "../components/support.js";

const PROD = ["prod-us-east-1", "prod-eu-west-1", "prod-ap-southeast-1"] as const;
const REGION_OF: Record<string, string> = {
  "prod-us-east-1": "us-east-1",
  "prod-eu-west-1": "eu-west-1",
  "prod-ap-southeast-1": "ap-southeast-1",
};

const plans: Record<string, PlanResult> = {};

beforeAll(async () => {
  for (const stack of [...PROD, "dev"]) plans[stack] = await cachedPlan(stack);
}, 120_000);

describe("the stack folder", () => {
  it("holds no secrets: no secure values, passwords or tokens in the stack files", () => {
    for (const stack of [...PROD, "dev"]) {
      const text = readFileSync(
        new URL(`../../stacks/Pulumi.${stack}.yaml`, import.meta.url),
        "utf8",
      )
        .split("\n")
        .filter((line) => !line.trimStart().startsWith("#"))
        .join("\n");
      expect([stack, /secure:|password|authToken|token:/i.test(text)]).toEqual([stack, false]);
    }
  });

  it("passes the cross-stack checks: one Global Datastore primary, two secondaries, disjoint VPCs", () => {
    expect(() => validateStackFolder()).not.toThrow();
  });
});

describe.each(PROD)("stack %s", (stack) => {
  const region = REGION_OF[stack]!;

  it("composes every layer under one Region, itself under the stack", () => {
    const res = plans[stack]!.resources;
    expect(find(res, "taskfleet:region:Region", "taskfleet").parentType).toBe(
      "pulumi:pulumi:Stack",
    );
    const layers = res
      .filter((r) => r.parent === "taskfleet" && r.type.startsWith("taskfleet:"))
      .map((r) => r.type)
      .sort();
    expect(layers).toEqual([
      "taskfleet:broker:BrokerCluster",
      "taskfleet:compute:ComputeCluster",
      "taskfleet:federation:Federation",
      "taskfleet:ingress:Ingress",
      "taskfleet:monitoring:Monitoring",
      "taskfleet:network:Network",
      "taskfleet:storage:Storage",
      "taskfleet:workers:WorkerTier",
    ]);
    expect(find(res, "pulumi:providers:aws", `aws-${region}`).inputs).toMatchObject({ region });
    // The region's provider reaches AWS resources deep in the tree through the Region's options.
    expect(find(res, "aws:ec2/vpc:Vpc", "taskfleet-network-vpc").provider).toContain(
      `aws-${region}`,
    );
    expect(
      find(res, "aws:elasticache/replicationGroup:ReplicationGroup", "taskfleet-storage-redis")
        .provider,
    ).toContain(`aws-${region}`);
  });

  it("runs a 5-node broker on gp3 with 6000 IOPS and a 5-node broker pool", () => {
    const res = plans[stack]!.resources;
    const sts = find(res, "kubernetes:apps/v1:StatefulSet", "taskfleet-broker");
    expect(at(sts.inputs, "spec.replicas")).toBe(5);
    expect(
      find(res, "kubernetes:storage.k8s.io/v1:StorageClass", "taskfleet-broker-storage").inputs,
    ).toMatchObject({
      parameters: { type: "gp3", iops: "6000", throughput: "250" },
    });
    expect(
      find(res, "aws:eks/nodeGroup:NodeGroup", "taskfleet-compute-broker").inputs,
    ).toMatchObject({
      scalingConfig: { minSize: 5, desiredSize: 5, maxSize: 6 },
    });
  });

  it("federates with the two other regions through their stacks' outputs", () => {
    const res = plans[stack]!.resources;
    const refs = ofType(res, "pulumi:pulumi:StackReference").filter(
      (r) => r.parent === "taskfleet-federation",
    );
    const others = PROD.filter((s) => s !== stack)
      .map((s) => `acme/taskfleet/${s}`)
      .sort();
    expect(refs.map((r) => r.inputs.name).sort()).toEqual(others);
    const defs = find(res, "kubernetes:core/v1:Secret", "taskfleet-broker-definitions").inputs
      .stringData as { secret: Record<string, string> };
    const doc = JSON.parse(defs.secret["definitions.json"]!) as {
      parameters: { component: string; name: string; value: { uri: string | string[] } }[];
    };
    const upstreams = doc.parameters.filter((p) => p.component === "federation-upstream");
    expect(upstreams).toHaveLength(2);
    for (const s of PROD.filter((x) => x !== stack)) {
      expect(JSON.stringify(upstreams)).toContain(`${s}-broker.elb.mock:5672`);
    }
  });

  it("joins the Global Datastore: created in us-east-1, joined by id elsewhere", () => {
    const res = plans[stack]!.resources;
    const globals = ofType(res, "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup");
    const rg = find(
      res,
      "aws:elasticache/replicationGroup:ReplicationGroup",
      "taskfleet-storage-redis",
    );
    if (stack === "prod-us-east-1") {
      expect(globals).toHaveLength(1);
      expect(rg.inputs).toMatchObject({
        clusterMode: "disabled",
        numCacheClusters: 3,
        preferredCacheClusterAzs: ["us-east-1a", "us-east-1b", "us-east-1c"],
        multiAzEnabled: true,
        transitEncryptionEnabled: true,
      });
      expect(rg.inputs.numNodeGroups).toBeUndefined();
    } else {
      expect(globals).toHaveLength(0);
      expect(rg.inputs.globalReplicationGroupId).toBe("mock-global-prod-us-east-1");
      expect(
        find(res, "pulumi:pulumi:StackReference", "taskfleet-storage-primary").inputs.name,
      ).toBe("acme/taskfleet/prod-us-east-1");
    }
  });

  it("has workers and the API write results to the primary region's cluster", () => {
    const res = plans[stack]!.resources;
    const host =
      stack === "prod-us-east-1"
        ? "master.taskfleet-storage-redis.cache.mock"
        : "master.prod-us-east-1.cache.mock";
    for (const name of ["taskfleet-workers-connection", "taskfleet-ingress-connection"]) {
      const sd = find(res, "kubernetes:core/v1:Secret", name).inputs.stringData as {
        secret: { resultBackend: string };
      };
      expect(sd.secret.resultBackend).toMatch(
        new RegExp(`^rediss://:[^@]+@${host.replace(/\./g, "\\.")}:6379/0$`),
      );
    }
  });

  it("runs the API on every interface with the broker's routes (default is sharded in prod)", () => {
    const api = find(plans[stack]!.resources, "kubernetes:apps/v1:Deployment", "taskfleet-ingress");
    const args = at(api.inputs, "spec.template.spec.containers.0.args") as string[];
    expect(args.slice(0, 5)).toEqual(["api", "--host", "0.0.0.0", "--port", "8080"]);
    expect(args.join(" ")).toContain(
      "--queue high_priority=high_priority:high --queue default=default:default",
    );
    expect(args.slice(-2)).toEqual(["--shard-queue", "default"]);
  });

  it("routes users to the region by latency under the shared name", () => {
    const rec = find(plans[stack]!.resources, "aws:route53/record:Record", "taskfleet-ingress-api");
    expect(rec.inputs).toMatchObject({
      name: "api.tasks.example.com",
      setIdentifier: region,
      latencyRoutingPolicies: [{ region }],
    });
  });

  it("publishes what its peers read, secrets kept secret", () => {
    const out = plans[stack]!.outputs;
    expect(out.brokerFederationUris).toEqual(["amqp://taskfleet-broker-svc.elb.mock:5672"]);
    expect(out.brokerFederationPassword).toBe("[secret]");
    expect(out.resultBackendAuthToken).toBe("[secret]");
    expect(out.kubeconfig).toBe("[secret]");
  });

  it("renders Kubernetes objects that the Kubernetes and KEDA schemas accept", async () => {
    const objs = plans[stack]!.kubernetes;
    expect(objs.length).toBeGreaterThan(30);
    for (const o of objs) await validateK8s(o as { apiVersion: string; kind: string });
  });
});

describe("stack dev", () => {
  it("creates no AWS compute on an existing cluster, and uses its kubeconfig", () => {
    const res = plans.dev!.resources;
    expect(
      res.filter(
        (r) => r.type.startsWith("aws:eks/") || r.type === "aws:ec2/launchTemplate:LaunchTemplate",
      ),
    ).toEqual([]);
    expect(res.filter((r) => r.type === "aws:ec2/vpc:Vpc")).toEqual([]);
    expect(find(res, "pulumi:providers:kubernetes", "taskfleet-compute-k8s").inputs).toMatchObject({
      kubeconfig: "~/.kube/config",
      context: "taskfleet-dev",
    });
    expect(
      at(find(res, "kubernetes:apps/v1:StatefulSet", "taskfleet-broker").inputs, "spec.replicas"),
    ).toBe(3);
    expect(ofType(res, "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup")).toEqual(
      [],
    );
  });

  it("renders schema-valid Kubernetes objects", async () => {
    for (const o of plans.dev!.kubernetes)
      await validateK8s(o as { apiVersion: string; kind: string });
  });
});
