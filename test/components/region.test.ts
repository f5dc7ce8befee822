import { beforeAll, describe, expect, it } from "vitest";
import { parseRegionConfig } from "../../components/config/regionConfig.js";
import { valueOf } from "../../cli/planEngine.js";
import { at, EKS_ACCESS, find, mocked, ofType, type RecordedResource } from "./support.js";

describe("Region", () => {
  let res: RecordedResource[];
  let outputs: Record<string, unknown>;
  beforeAll(async () => {
    const engine = await mocked();
    const { Region } = await import("../../components/region.js");
    const r = new Region("r", {
      config: parseRegionConfig({ region: "eu-west-1", cluster: EKS_ACCESS }),
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
      resultBackendHost: "master.r-storage-redis.cache.mock",
    });
    expect(typeof outputs.brokerFederationPassword).toBe("string");
  });

  it("without peers runs no federation exporter; scrapes the brokers over HTTP on 15692", () => {
    const named = (type: string) => ofType(res, type).map((x) => x.name);
    expect(named("kubernetes:apps/v1:Deployment")).not.toContain(
      "r-monitoring-federation-exporter",
    );
    expect(named("kubernetes:core/v1:Secret")).not.toContain("r-monitoring-federation-exporter");
    const cfg = prometheusConfig(res);
    expect(cfg.scrape_configs.map((j) => j.job_name)).not.toContain("taskfleet-federation");
    const rabbit = cfg.scrape_configs.find((j) => j.job_name === "rabbitmq")!;
    expect(rabbit.scheme).toBeUndefined();
    expect(rabbit.tls_config).toBeUndefined();
    expect(brokerAddress(rabbit)).toBe("$1:15692");
    const pod = at(
      find(res, "kubernetes:apps/v1:StatefulSet", "r-broker").inputs,
      "spec.template.spec",
    );
    expect(at(pod, "containers.0.ports")).toEqual([
      { name: "amqp", containerPort: 5672, protocol: "TCP" },
      { name: "management", containerPort: 15672, protocol: "TCP" },
      { name: "prometheus", containerPort: 15692, protocol: "TCP" },
      { name: "epmd", containerPort: 4369, protocol: "TCP" },
      { name: "cluster-rpc", containerPort: 25672, protocol: "TCP" },
    ]);
  });

  it("fails on a pool whose queue class the broker lacks, before registering anything", async () => {
    const engine = await mocked();
    const { Region } = await import("../../components/region.js");
    const config = parseRegionConfig({
      region: "eu-west-1",
      cluster: EKS_ACCESS,
      workers: { pools: [{ name: "reports" }] },
    });
    expect(() => new Region("bad", { config })).toThrowError(
      'taskfleet:workers.pools[0].queue: "reports" is not a queue class of taskfleet:broker; use one of "high_priority", "default"',
    );
    await engine.settle();
    expect(engine.resources).toEqual([]);
  });
});

interface ScrapeJob {
  job_name: string;
  scheme?: string;
  tls_config?: { ca_file: string; server_name: string };
  static_configs?: { targets: string[] }[];
  relabel_configs?: { target_label?: string; replacement?: string }[];
}

function prometheusConfig(res: readonly RecordedResource[]): { scrape_configs: ScrapeJob[] } {
  const cm = find(res, "kubernetes:core/v1:ConfigMap", "r-monitoring-prometheus-config");
  const data = cm.inputs.data as Record<string, string>;
  return JSON.parse(data["prometheus.yml"]!) as {
    scrape_configs: ScrapeJob[];
  };
}

/** The `__address__` rewrite of a pod-discovery job (`$1:<port>`). */
function brokerAddress(job: ScrapeJob): string | undefined {
  return job.relabel_configs?.find((r) => r.target_label === "__address__")?.replacement;
}

describe("Region with federation peers and broker TLS", () => {
  let res: RecordedResource[];
  beforeAll(async () => {
    const engine = await mocked({
      stackOutputs: {
        "acme/taskfleet/prod-us-east-1": {
          brokerFederationUris: ["amqps://use1.elb:5671"],
          brokerFederationPassword: "pw-use1",
        },
      },
    });
    const { Region } = await import("../../components/region.js");
    new Region("r", {
      config: parseRegionConfig({
        region: "eu-west-1",
        cluster: EKS_ACCESS,
        federation: { peers: [{ region: "us-east-1", stack: "acme/taskfleet/prod-us-east-1" }] },
      }),
      broker: {
        nodes: 3,
        tls: {
          enabled: true,
          caCertFile: "/etc/rabbitmq/tls/ca.pem",
          certFile: "/etc/rabbitmq/tls/tls.crt",
          keyFile: "/etc/rabbitmq/tls/tls.key",
        },
        federation: [{ region: "us-east-1", queues: ["high_priority"] }],
      },
    });
    await engine.settle();
    res = engine.resources;
  });

  it("runs the federation exporter against this region's management API over HTTPS as the monitoring user", () => {
    const secret = find(res, "kubernetes:core/v1:Secret", "r-monitoring-federation-exporter");
    expect(secret.inputs.stringData).toEqual({
      secret: {
        url: "https://r-broker.taskfleet.svc.cluster.local:15671",
        username: "taskfleet-monitoring",
        password: "mock-r-broker-monitoring-password",
      },
    });
    const dep = find(res, "kubernetes:apps/v1:Deployment", "r-monitoring-federation-exporter");
    const pod = at(dep.inputs, "spec.template.spec");
    expect(at(pod, "containers.0.env")).toEqual([
      {
        name: "RABBITMQ_MANAGEMENT_URL",
        valueFrom: { secretKeyRef: { name: "r-monitoring-federation-exporter", key: "url" } },
      },
      {
        name: "RABBITMQ_USERNAME",
        valueFrom: { secretKeyRef: { name: "r-monitoring-federation-exporter", key: "username" } },
      },
      {
        name: "RABBITMQ_PASSWORD",
        valueFrom: { secretKeyRef: { name: "r-monitoring-federation-exporter", key: "password" } },
      },
      { name: "EXPORTER_PORT", value: "9877" },
      { name: "NODE_EXTRA_CA_CERTS", value: "/etc/federation-exporter/ca/ca.pem" },
    ]);
    expect(at(pod, "containers.0.volumeMounts")).toEqual([
      { name: "script", mountPath: "/exporter", readOnly: true },
      { name: "ca", mountPath: "/etc/federation-exporter/ca", readOnly: true },
    ]);
    expect(at(pod, "volumes.1")).toEqual({
      name: "ca",
      secret: { secretName: "r-broker-tls", items: [{ key: "ca.pem", path: "ca.pem" }] },
    });
    const job = prometheusConfig(res).scrape_configs.find(
      (j) => j.job_name === "taskfleet-federation",
    );
    expect(job?.static_configs).toEqual([
      { targets: ["r-monitoring-federation-exporter.taskfleet.svc:9877"] },
    ]);
  });

  it("scrapes the brokers over HTTPS on 15691 with the broker's CA and the client Service's name", () => {
    const jobs = prometheusConfig(res).scrape_configs.filter((j) =>
      j.job_name.startsWith("rabbitmq"),
    );
    expect(jobs.map((j) => j.job_name)).toEqual(["rabbitmq", "rabbitmq-queues"]);
    for (const j of jobs) {
      expect(j.scheme).toBe("https");
      expect(j.tls_config).toEqual({
        ca_file: "/etc/prometheus/tls/brokers/ca.pem",
        server_name: "r-broker.taskfleet.svc.cluster.local",
      });
      expect(brokerAddress(j)).toBe("$1:15691");
    }
    const prom = find(res, "kubernetes:apps/v1:StatefulSet", "r-monitoring-prometheus");
    expect(at(prom.inputs, "spec.template.spec.volumes")).toContainEqual({
      name: "brokers-ca",
      secret: { secretName: "r-broker-tls", items: [{ key: "ca.pem", path: "ca.pem" }] },
    });
  });

  it("listens, exposes and admits the TLS ports on the broker (5671, 15671, 15691)", () => {
    const pod = at(
      find(res, "kubernetes:apps/v1:StatefulSet", "r-broker").inputs,
      "spec.template.spec",
    );
    expect(at(pod, "containers.0.ports")).toEqual([
      { name: "amqps", containerPort: 5671, protocol: "TCP" },
      { name: "management", containerPort: 15671, protocol: "TCP" },
      { name: "prometheus", containerPort: 15691, protocol: "TCP" },
      { name: "epmd", containerPort: 4369, protocol: "TCP" },
      { name: "cluster-rpc", containerPort: 25672, protocol: "TCP" },
    ]);
    expect(
      at(find(res, "kubernetes:core/v1:Service", "r-broker-svc").inputs, "spec.ports"),
    ).toEqual([
      { name: "amqps", port: 5671, targetPort: "amqps", protocol: "TCP" },
      { name: "management", port: 15671, targetPort: "management", protocol: "TCP" },
    ]);
    expect(
      at(find(res, "kubernetes:core/v1:Service", "r-broker-nodes-svc").inputs, "spec.ports.3"),
    ).toEqual({ name: "prometheus", port: 15691, targetPort: "prometheus", protocol: "TCP" });
    const ingress = at(
      ofType(res, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find((x) =>
        x.name.startsWith("r-broker"),
      )?.inputs,
      "spec.ingress",
    ) as { ports: unknown[] }[];
    expect(ingress.map((r) => r.ports)).toEqual([
      [
        { protocol: "TCP", port: 4369 },
        { protocol: "TCP", port: 25672 },
      ],
      [
        { protocol: "TCP", port: 5671 },
        { protocol: "TCP", port: 15671 },
      ],
      [{ protocol: "TCP", port: 15691 }],
    ]);
  });
});
