import { beforeAll, describe, expect, it } from "vitest";
import { parseRegionConfig } from "../../components/config/regionConfig.js";
import { valueOf } from "../../cli/planEngine.js";
import { find, mocked, type RecordedResource } from "./support.js";

describe("Region", () => {
  let res: RecordedResource[];
  let outputs: Record<string, unknown>;
  beforeAll(async () => {
    const engine = await mocked();
    const { Region } = await import("../../components/region.js");
    const r = new Region("r", {
      config: parseRegionConfig({ region: "eu-west-1" }),
      broker: { nodes: 3 },
    });
    outputs = Object.fromEntries(
      await Promise.all(Object.entries(r.outputs).map(async ([k, v]) => [k, await valueOf(v)])),
    );
    await engine.settle();
    res = engine.resources;
  });

  it("composes one component per layer, named from the region's name, parented to it", () => {
    const layers = res
      .filter((x) => x.parent === "r" && x.type.startsWith("taskfleet:"))
      .map((x) => `${x.type} ${x.name}`)
      .sort();
    expect(layers).toEqual([
      "taskfleet:broker:BrokerCluster r-broker",
      "taskfleet:compute:ComputeCluster r-compute",
      "taskfleet:federation:Federation r-federation",
      "taskfleet:ingress:Ingress r-ingress",
      "taskfleet:monitoring:Monitoring r-monitoring",
      "taskfleet:network:Network r-network",
      "taskfleet:storage:Storage r-storage",
      "taskfleet:workers:WorkerTier r-workers",
    ]);
  });

  it("creates the namespace and places the broker, workers and API in it with the cluster's provider", () => {
    expect(find(res, "kubernetes:core/v1:Namespace", "r-taskfleet-ns").inputs).toMatchObject({
      metadata: { name: "taskfleet" },
    });
    const sts = find(res, "kubernetes:apps/v1:StatefulSet", "r-broker");
    expect(sts.provider).toMatch(/r-compute-k8s/);
    expect(find(res, "kubernetes:apps/v1:Deployment", "r-workers-high-priority").provider).toMatch(
      /r-compute-k8s/,
    );
  });

  it("sizes the broker node pool to the broker's node count", () => {
    expect(find(res, "aws:eks/nodeGroup:NodeGroup", "r-compute-broker").inputs).toMatchObject({
      scalingConfig: { minSize: 3, desiredSize: 3, maxSize: 4 },
    });
  });

  it("publishes what peers and secondaries read", () => {
    expect(outputs).toMatchObject({
      region: "eu-west-1",
      brokerEndpoint: "r-broker-svc.elb.mock",
      brokerFederationUris: ["amqp://r-broker-svc.elb.mock:5672"],
      resultBackendHost: "clustercfg.r-storage-redis.cache.mock",
    });
    expect(typeof outputs.brokerFederationPassword).toBe("string");
  });

  it("fails on a pool whose queue class the broker lacks, before registering anything", async () => {
    const engine = await mocked();
    const { Region } = await import("../../components/region.js");
    const config = parseRegionConfig({
      region: "eu-west-1",
      workers: { pools: [{ name: "reports" }] },
    });
    expect(() => new Region("bad", { config })).toThrowError(
      'taskfleet:workers.pools[0].queue: "reports" is not a queue class of taskfleet:broker; use one of "high_priority", "default"',
    );
    await engine.settle();
    expect(engine.resources).toEqual([]);
  });
});
