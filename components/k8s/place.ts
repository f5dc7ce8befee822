/**
 * Places a plain Kubernetes object (from a pure generator) as the matching typed Pulumi resource,
 * unchanged. Kinds without a typed class (KEDA's) become CustomResources. The Pulumi name is
 * `<name>` for the first object of a kind; callers pass distinct names per kind.
 */
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
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
    StorageClass: "-storage",
    NetworkPolicy: "-netpol",
    Namespace: "-ns",
  };
  return `${name}${suffix[kind] ?? `-${kind.toLowerCase()}`}`;
}

export function createObject(name: string, obj: K8sObject, opts: Opts): pulumi.CustomResource {
  const n = resourceName(name, obj.kind);
  const { apiVersion, kind, ...rest } = obj;
  // The typed classes fill apiVersion/kind themselves; the body is passed as generated.
  const body: unknown = rest;
  switch (`${apiVersion}/${kind}`) {
    case "apps/v1/Deployment":
      return new k8s.apps.v1.Deployment(n, body as k8s.apps.v1.DeploymentArgs, opts);
    case "apps/v1/StatefulSet":
      return new k8s.apps.v1.StatefulSet(n, body as k8s.apps.v1.StatefulSetArgs, opts);
    case "v1/Service":
      return new k8s.core.v1.Service(n, body as k8s.core.v1.ServiceArgs, opts);
    case "v1/ConfigMap":
      return new k8s.core.v1.ConfigMap(n, body as k8s.core.v1.ConfigMapArgs, opts);
    case "v1/ServiceAccount":
      return new k8s.core.v1.ServiceAccount(n, body as k8s.core.v1.ServiceAccountArgs, opts);
    case "v1/Namespace":
      return new k8s.core.v1.Namespace(n, body as k8s.core.v1.NamespaceArgs, opts);
    case "policy/v1/PodDisruptionBudget":
      return new k8s.policy.v1.PodDisruptionBudget(
        n,
        body as k8s.policy.v1.PodDisruptionBudgetArgs,
        opts,
      );
    case "rbac.authorization.k8s.io/v1/Role":
      return new k8s.rbac.v1.Role(n, body as k8s.rbac.v1.RoleArgs, opts);
    case "rbac.authorization.k8s.io/v1/RoleBinding":
      return new k8s.rbac.v1.RoleBinding(n, body as k8s.rbac.v1.RoleBindingArgs, opts);
    case "storage.k8s.io/v1/StorageClass":
      return new k8s.storage.v1.StorageClass(n, body as k8s.storage.v1.StorageClassArgs, opts);
    case "networking.k8s.io/v1/NetworkPolicy":
      return new k8s.networking.v1.NetworkPolicy(
        n,
        body as k8s.networking.v1.NetworkPolicyArgs,
        opts,
      );
    default:
      return new k8s.apiextensions.CustomResource(n, { apiVersion, kind, ...rest }, opts);
  }
}
