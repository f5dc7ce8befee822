import * as pulumi from "@pulumi/pulumi";
import { k8sName } from "../k8s/objects.js";
import { workerPoolObjects, type WorkerPoolSpec } from "./workerManifests.js";
import { createConnectionSecret, createObject } from "../k8s/place.js";

/** Arguments of {@link WorkerTier}. */
export interface WorkerTierArgs {
  /** Namespace of the workers. @default "taskfleet" */
  readonly namespace?: string;
  /** The worker image (its entrypoint is the `taskfleet` CLI). @default - required */
  readonly image: string;
  /** Task module passed as `-A`. @default - none: the image's default module */
  readonly app?: string;
  /** Port of the runtime's `/healthz`, `/readyz` and `/metrics`. @default 8080 */
  readonly healthPort?: number;
  /** One pool per queue class (S22). @default - required, at least one */
  readonly pools: readonly WorkerPoolSpec[];
  /** AMQP URL of the broker with the workers' credentials (secret). @default - required */
  readonly brokerUrl: pulumi.Input<string>;
  /** Result-backend URL (secret). @default - required */
  readonly resultBackendUrl: pulumi.Input<string>;
  /** Pin each pool to its own node group (`taskfleet.io/pool=worker-<name>`). @default false */
  readonly selectNodePools?: boolean;
  /**
   * The Helm release that installs KEDA's CRDs: the TriggerAuthentication and ScaledObject wait
   * for it (the API server refuses their kinds before the CRDs exist).
   * @default - none: KEDA is already installed in the cluster
   */
  readonly kedaRelease?: pulumi.Resource;
}

export const WORKER_TIER_DEFAULTS = Object.freeze({
  namespace: "taskfleet",
  healthPort: 8080,
  selectNodePools: false,
});

/**
 * The task-processing layer: a Deployment of the worker image per pool (its `-Q`, `-c`, `-n`,
 * `--autoscale`), sized per priority, probed on the runtime's health endpoints, with a grace
 * period longer than the task time limit, a PodDisruptionBudget, and a KEDA ScaledObject that
 * scales on the pool's queue backlog per replica.
 */
export class WorkerTier extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:workers:WorkerTier";
  /** Deployment names by pool. */
  public readonly deployments: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: WorkerTierArgs, opts: pulumi.ComponentResourceOptions = {}) {
    if (args.pools.length === 0)
      throw new Error("pools: [] is empty; give at least one worker pool");
    const seen = new Set<string>();
    for (const p of args.pools) {
      if (seen.has(p.name))
        throw new Error(
          `pools: ${JSON.stringify(p.name)} appears twice; pool names must be unique`,
        );
      seen.add(p.name);
      if (p.queues.length === 0)
        throw new Error(`pools.${p.name}.queues: [] is empty; give the queues it consumes`);
    }
    super(WorkerTier.TOKEN, name, {}, opts);
    const d = WORKER_TIER_DEFAULTS;
    const namespace = args.namespace ?? d.namespace;
    const secretName = k8sName(name, "connection");
    const secret = createConnectionSecret(name, { name: secretName, namespace }, args, {
      parent: this,
    });
    const names: Record<string, string> = {};
    for (const pool of args.pools) {
      const objs = workerPoolObjects(pool, {
        instance: name,
        namespace,
        image: args.image,
        app: args.app,
        healthPort: args.healthPort ?? d.healthPort,
        secretName,
        selectNodePool: args.selectNodePools ?? d.selectNodePools,
      });
      const key = `${name}-${pool.name.replace(/_/g, "-")}`;
      const deps = { parent: this, dependsOn: [secret] };
      createObject(key, objs.deployment, deps);
      createObject(key, objs.podDisruptionBudget, deps);
      const keda = args.kedaRelease ? [args.kedaRelease] : [];
      const auth = createObject(key, objs.triggerAuthentication, {
        parent: this,
        dependsOn: [secret, ...keda],
      });
      createObject(key, objs.scaledObject, { parent: this, dependsOn: [auth, ...keda] });
      names[pool.name] = objs.deployment.metadata.name;
    }
    this.deployments = pulumi.output(names);
    this.registerOutputs({ deployments: this.deployments });
  }
}
