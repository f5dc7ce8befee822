import { beforeAll, describe, expect, it } from "vitest";
import {
  workerArgs,
  workerPoolObjects,
  type WorkerPoolSpec,
} from "../../components/workers/workerManifests.js";
import { kubernetesObjects } from "../../cli/planEngine.js";
import { validateK8s } from "./k8sSchema.js";
import { at, find, mocked, ofType, type RecordedResource } from "./support.js";

const HIGH: WorkerPoolSpec = {
  name: "high_priority",
  queues: ["high_priority"],
  priority: "high",
  concurrency: 10,
  minConcurrency: 10,
  maxConcurrency: 50,
  minReplicas: 2,
  maxReplicas: 30,
  backlogPerReplica: 200,
  cpu: "2",
  memoryMiB: 4096,
  taskTimeLimitSeconds: 600,
};
const DEFAULT: WorkerPoolSpec = {
  ...HIGH,
  name: "default",
  queues: ["default.shard.0", "default.shard.1"],
  priority: "default",
  concurrency: 20,
  cpu: "1",
  memoryMiB: 2048,
  minReplicas: 1,
  maxReplicas: 20,
  taskTimeLimitSeconds: 300,
};
const CTX = {
  instance: "w",
  namespace: "taskfleet",
  image: "img:1",
  app: "/app/tasks.js",
  healthPort: 8080,
  secretName: "w-connection",
  selectNodePool: true,
};

describe("worker manifests (pure)", () => {
  it("runs the seed's command line per pool (S22, S24)", () => {
    expect(workerArgs(HIGH, CTX)).toEqual([
      "worker",
      "-A",
      "/app/tasks.js",
      "-Q",
      "high_priority",
      "-c",
      "10",
      "-n",
      "high_priority_worker@%h",
      "--autoscale=50,10",
      "--prefetch-multiplier=1",
      "--shutdown-timeout",
      "600",
      "--health-host",
      "0.0.0.0",
      "--health-port",
      "8080",
    ]);
  });

  it("gives the grace period the task time limit plus a margin, and probes the health endpoints", () => {
    const d = workerPoolObjects(HIGH, CTX).deployment;
    expect(at(d, "spec.template.spec.terminationGracePeriodSeconds")).toBe(630);
    expect(at(d, "spec.template.spec.containers.0.livenessProbe.httpGet")).toEqual({
      path: "/healthz",
      port: "health",
    });
    expect(at(d, "spec.template.spec.containers.0.readinessProbe.httpGet")).toEqual({
      path: "/readyz",
      port: "health",
    });
    expect(at(d, "spec.template.spec.nodeSelector")).toEqual({
      "taskfleet.io/pool": "worker-high-priority",
    });
  });

  it("runs non-root, without privilege escalation, with every capability dropped", () => {
    const d = workerPoolObjects(HIGH, CTX).deployment;
    expect(at(d, "spec.template.spec.securityContext")).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
    });
    expect(at(d, "spec.template.spec.containers.0.securityContext")).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("scales on backlog per replica with min/max from the pool's autoscale (S39), one trigger per queue", () => {
    const so = workerPoolObjects(DEFAULT, CTX).scaledObject;
    expect(so.apiVersion).toBe("keda.sh/v1alpha1");
    expect(at(so, "spec.minReplicaCount")).toBe(1);
    expect(at(so, "spec.maxReplicaCount")).toBe(20);
    expect(at(so, "spec.triggers")).toEqual([
      {
        type: "rabbitmq",
        metadata: {
          protocol: "amqp",
          queueName: "default.shard.0",
          mode: "QueueLength",
          value: "200",
        },
        authenticationRef: { name: "w-default" },
      },
      {
        type: "rabbitmq",
        metadata: {
          protocol: "amqp",
          queueName: "default.shard.1",
          mode: "QueueLength",
          value: "200",
        },
        authenticationRef: { name: "w-default" },
      },
    ]);
  });

  it("renders objects that the Kubernetes and KEDA schemas accept", async () => {
    for (const o of Object.values(workerPoolObjects(HIGH, CTX))) await validateK8s(o);
  });
});

describe("WorkerTier", () => {
  let res: RecordedResource[];
  beforeAll(async () => {
    const engine = await mocked();
    const { WorkerTier } = await import("../../components/workers/workerTier.js");
    new WorkerTier("w", {
      image: "img:1",
      app: "/app/tasks.js",
      pools: [HIGH, DEFAULT],
      brokerUrl: "amqp://workers:pw@broker:5672/%2f",
      resultBackendUrl: "rediss://:tok@redis:6379/0",
      selectNodePools: true,
    });
    await engine.settle();
    res = engine.resources;
  });

  it("creates per pool a Deployment, a PDB, a TriggerAuthentication and a ScaledObject, all children of the tier", () => {
    const children = res.filter((r) => r.parent === "w");
    expect(children.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [
        "kubernetes:apps/v1:Deployment w-default",
        "kubernetes:apps/v1:Deployment w-high-priority",
        "kubernetes:core/v1:Secret w-connection",
        "kubernetes:keda.sh/v1alpha1:ScaledObject w-default-scaler",
        "kubernetes:keda.sh/v1alpha1:ScaledObject w-high-priority-scaler",
        "kubernetes:keda.sh/v1alpha1:TriggerAuthentication w-default-trigger-auth",
        "kubernetes:keda.sh/v1alpha1:TriggerAuthentication w-high-priority-trigger-auth",
        "kubernetes:policy/v1:PodDisruptionBudget w-default-pdb",
        "kubernetes:policy/v1:PodDisruptionBudget w-high-priority-pdb",
      ].sort(),
    );
    expect(find(res, "taskfleet:workers:WorkerTier", "w").parent).toBeUndefined();
  });

  it("keeps connection URLs in a Secret as secrets, referenced by the pods", () => {
    const s = find(res, "kubernetes:core/v1:Secret", "w-connection");
    expect(s.inputs.stringData).toEqual({
      secret: {
        brokerUrl: "amqp://workers:pw@broker:5672/%2f",
        resultBackend: "rediss://:tok@redis:6379/0",
      },
    });
    const d = find(res, "kubernetes:apps/v1:Deployment", "w-high-priority");
    expect(at(d.inputs, "spec.template.spec.containers.0.env.0")).toEqual({
      name: "TASKFLEET_BROKER_URL",
      valueFrom: { secretKeyRef: { name: "w-connection", key: "brokerUrl" } },
    });
  });

  it("gives high priority more CPU and memory than default (S27)", () => {
    const high = find(res, "kubernetes:apps/v1:Deployment", "w-high-priority");
    const def = find(res, "kubernetes:apps/v1:Deployment", "w-default");
    expect(at(high.inputs, "spec.template.spec.containers.0.resources.requests")).toEqual({
      cpu: "2",
      memory: "4096Mi",
    });
    expect(at(def.inputs, "spec.template.spec.containers.0.resources.requests")).toEqual({
      cpu: "1",
      memory: "2048Mi",
    });
  });

  it("passes what it placed through the schemas", async () => {
    const objs = kubernetesObjects(res.filter((r) => r.parent === "w"));
    expect(objs).toHaveLength(9);
    for (const o of objs) await validateK8s(o as { apiVersion: string; kind: string });
    expect(ofType(res, "kubernetes:keda.sh/v1alpha1:ScaledObject")).toHaveLength(2);
  });
});
