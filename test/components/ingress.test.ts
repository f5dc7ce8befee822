import { beforeAll, describe, expect, it } from "vitest";
import { apiObjects, apiRoutingArgs } from "../../components/ingress/apiManifests.js";
import { kubernetesObjects } from "../../cli/planEngine.js";
import { validateK8s } from "./k8sSchema.js";
import { at, find, mocked, ofType, type RecordedResource } from "./support.js";

const BASE = {
  region: "eu-west-1",
  image: "img:1",
  brokerUrl: "amqp://producers:pw@broker:5672/%2f",
  resultBackendUrl: "rediss://:tok@redis:6379/0",
};

describe("API manifests (pure)", () => {
  it("runs `taskfleet api` behind an internet-facing NLB Service", async () => {
    const o = apiObjects({
      instance: "i",
      namespace: "taskfleet",
      image: "img:1",
      region: "eu-west-1",
      replicas: 3,
      port: 8080,
      cpu: "500m",
      memoryMiB: 512,
      secretName: "s",
      selectNodePool: false,
    });
    expect(at(o.deployment, "spec.template.spec.containers.0.args")).toEqual([
      "api",
      "--host",
      "0.0.0.0",
      "--port",
      "8080",
    ]);
    expect(at(o.service, "spec.type")).toBe("LoadBalancer");
    expect(o.service.metadata.annotations).toMatchObject({
      "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
    });
    for (const obj of Object.values(o)) await validateK8s(obj);
  });
});

describe("API routing (pure)", () => {
  it("routes each queue class by exchange and routing-key prefix, priorities to their queues, keys to the shard queue", () => {
    expect(
      apiRoutingArgs({
        classes: [
          {
            name: "high_priority",
            queue: "high_priority",
            exchange: "high_priority",
            routingKey: "high.#",
          },
          { name: "default", queue: "default", exchange: "default", routingKey: "default.#" },
        ],
        priorities: [
          { priority: "high", queueClass: "high_priority" },
          { priority: "default", queueClass: "default" },
        ],
        shardedClass: "default",
      }),
    ).toEqual([
      "--queue",
      "high_priority=high_priority:high",
      "--queue",
      "default=default:default",
      "--priority",
      "high=high_priority",
      "--priority",
      "default=default",
      "--default-queue",
      "default",
      "--shard-queue",
      "default",
    ]);
  });
});

describe("Ingress", () => {
  let res: RecordedResource[];
  beforeAll(async () => {
    const engine = await mocked();
    const { Ingress } = await import("../../components/ingress/ingress.js");
    new Ingress("i", {
      ...BASE,
      hostname: "api.tasks.example.com",
      hostedZoneId: "Z0123456789ABCDEFGHIJ",
    });
    new Ingress("n", BASE);
    await engine.settle();
    res = engine.resources;
  });

  it("places the API Deployment, PDB and Service as children", () => {
    const children = res
      .filter((r) => r.parent === "i")
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    expect(children).toEqual([
      "aws:route53/healthCheck:HealthCheck i-api",
      "aws:route53/record:Record i-api",
      "kubernetes:apps/v1:Deployment i",
      "kubernetes:core/v1:Secret i-connection",
      "kubernetes:core/v1:Service i-svc",
      "kubernetes:policy/v1:PodDisruptionBudget i-pdb",
    ]);
  });

  it("adds a latency record under the shared name with the region as set identifier (S11)", () => {
    expect(find(res, "aws:route53/record:Record", "i-api").inputs).toMatchObject({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "api.tasks.example.com",
      type: "CNAME",
      records: ["i-svc.elb.mock"],
      setIdentifier: "eu-west-1",
      latencyRoutingPolicies: [{ region: "eu-west-1" }],
      healthCheckId: "i-api-id",
    });
    expect(find(res, "aws:route53/healthCheck:HealthCheck", "i-api").inputs).toMatchObject({
      fqdn: "i-svc.elb.mock",
      resourcePath: "/readyz",
    });
  });

  it("creates no DNS without a hostname", () => {
    expect(ofType(res, "aws:route53/record:Record").map((r) => r.name)).toEqual(["i-api"]);
  });

  it("renders schema-valid Kubernetes objects", async () => {
    for (const o of kubernetesObjects(res.filter((r) => r.parent === "i")))
      await validateK8s(o as { apiVersion: string; kind: string });
  });

  it("refuses a hostname without a hosted zone", async () => {
    const { Ingress } = await import("../../components/ingress/ingress.js");
    expect(() => new Ingress("bad", { ...BASE, hostname: "api.example.com" })).toThrow(
      "hostname and hostedZoneId: set both or neither",
    );
  });
});
