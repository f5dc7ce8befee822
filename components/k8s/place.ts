/**
 * Places a plain Kubernetes object (from a pure generator) as the matching typed Pulumi resource,
 * unchanged. Kinds without a typed class (KEDA's) become CustomResources. The Pulumi name is
 * `<name>` for the first object of a kind; callers pass distinct names per kind.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "./objects.js";

type Opts = pulumi.CustomResourceOptions;

/** Pulumi resource name for an object: `<name>` plus a kind suffix, so kinds never collide. */
export function resourceName(name: string, kind: string): string {
  const suffix: Record<string, string> = {
    Deployment: "",
    StatefulSet: "",
    Service: "-svc",
    PodDisruptionBudget: "-pdb",
    ScaledObject: "-scaler",
    TriggerAuthentication: "-trigger-auth",
    ConfigMap: "-config",
    Secret: "-secret",
    ServiceAccount: "-sa",
    Role: "-role",
    RoleBinding: "-rolebinding",
    ClusterRole: "-clusterrole",
    ClusterRoleBinding: "-clusterrolebinding",
    DaemonSet: "",
    StorageClass: "-storage",
    NetworkPolicy: "-netpol",
    Namespace: "-ns",
  };
  return `${name}${suffix[kind] ?? `-${kind.toLowerCase()}`}`;
}

/** A typed resource class of the Kubernetes provider, its args left to the generated body. */
type TypedClass = new (name: string, args: never, opts?: Opts) => pulumi.CustomResource;

/** `<apiVersion>/<kind>` to the provider's typed class. */
const TYPED: Readonly<Record<string, TypedClass>> = {
  "apps/v1/Deployment": k8s.apps.v1.Deployment,
  "apps/v1/StatefulSet": k8s.apps.v1.StatefulSet,
  "apps/v1/DaemonSet": k8s.apps.v1.DaemonSet,
  "v1/Service": k8s.core.v1.Service,
  "v1/ConfigMap": k8s.core.v1.ConfigMap,
  "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
  "v1/Namespace": k8s.core.v1.Namespace,
  "policy/v1/PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding,
  "rbac.authorization.k8s.io/v1/ClusterRole": k8s.rbac.v1.ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
  "storage.k8s.io/v1/StorageClass": k8s.storage.v1.StorageClass,
  "networking.k8s.io/v1/NetworkPolicy": k8s.networking.v1.NetworkPolicy,
};

export function createObject(name: string, obj: K8sObject, opts: Opts): pulumi.CustomResource {
  const n = resourceName(name, obj.kind);
  const { apiVersion, kind, ...rest } = obj;
  const typed = TYPED[`${apiVersion}/${kind}`];
  // The typed classes fill apiVersion/kind themselves; the body is passed as generated.
  if (typed !== undefined) return new typed(n, rest as never, opts);
  return new k8s.apiextensions.CustomResource(n, { apiVersion, kind, ...rest }, opts);
}

/**
 * The Secret a runtime Deployment reads its connection from (`brokerUrl`, `resultBackend`: see
 * `connectionEnv` in runtimeDeployment.ts), both values kept secret. Pulumi name
 * `<name>-connection`.
 */
export function createConnectionSecret(
  name: string,
  secret: { readonly name: string; readonly namespace: string },
  urls: {
    readonly brokerUrl: pulumi.Input<string>;
    readonly resultBackendUrl: pulumi.Input<string>;
  },
  opts: Opts,
): k8s.core.v1.Secret {
  return new k8s.core.v1.Secret(
    `${name}-connection`,
    {
      metadata: { name: secret.name, namespace: secret.namespace },
      type: "Opaque",
      stringData: {
        brokerUrl: pulumi.secret(urls.brokerUrl),
        resultBackend: pulumi.secret(urls.resultBackendUrl),
      },
    },
    opts,
  );
}
