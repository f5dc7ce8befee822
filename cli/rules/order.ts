/**
 * Creation order and versions of what the cluster must already serve: custom resources wait for
 * the Helm release that installs their CRDs, and that release supports the cluster's Kubernetes
 * version.
 */
import { keyOf, ofType, str, transitiveDependencies, type Rule, type Violation } from "./rule.js";

export const HELM_RELEASE = "kubernetes:helm.sh/v3:Release";

/** API groups of custom resources the kit creates, and the chart that installs their CRDs. */
export const CRD_CHARTS: Readonly<Record<string, { chart: string; installKey: string }>> = {
  "keda.sh": { chart: "keda", installKey: "taskfleet:cluster.installKeda" },
};

/** `kubernetes:<group>/<version>:<Kind>` → group (`""` for the core group). */
export function apiGroup(type: string): string | undefined {
  const m = /^kubernetes:([^:]+):[^:]+$/.exec(type);
  if (!m) return undefined;
  const gv = m[1]!;
  const slash = gv.lastIndexOf("/");
  return slash < 0 ? "" : gv.slice(0, slash);
}

// The API server answers "no matches for kind ScaledObject in version keda.sh/v1alpha1" for a
// custom resource whose CustomResourceDefinition is not established yet; Pulumi creates resources
// in parallel unless one depends on the other, so each custom resource must (transitively) depend
// on the release that installs its CRD.
// Source: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
// ("create a CustomResourceDefinition ... then you can create custom objects") and
// https://www.pulumi.com/docs/iac/concepts/options/dependson/
export const customResourcesAfterTheirCrds: Rule = {
  id: "crd-before-custom-resources",
  description:
    "A custom resource (KEDA ScaledObject, TriggerAuthentication) is created only after the Helm release that installs its CRD",
  source:
    "https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/",
  check(ctx) {
    const out: Violation[] = [];
    const releases = ofType(ctx, HELM_RELEASE);
    for (const r of ctx.resources) {
      const group = apiGroup(r.type);
      const owner = group === undefined ? undefined : CRD_CHARTS[group];
      if (owner === undefined || !r.custom) continue;
      const installers = releases.filter((x) => str(x.inputs.chart) === owner.chart);
      if (installers.length === 0) {
        // The cluster brings the CRDs itself only when the stack says so.
        if (owner.chart === "keda" && !ctx.config.cluster.installKeda) continue;
        out.push({
          resource: keyOf(r),
          field: "apiVersion",
          problem: `${group} objects need the "${owner.chart}" chart's CRDs and the plan installs no "${owner.chart}" release`,
          fix: `install it (${owner.installKey}: true) or set ${owner.installKey}: false on a cluster that already has it`,
        });
        continue;
      }
      const deps = transitiveDependencies(ctx.resources, r);
      if (!installers.some((x) => deps.has(keyOf(x)))) {
        out.push({
          resource: keyOf(r),
          field: "dependsOn",
          problem: `does not depend on ${installers.map(keyOf).join(" or ")}, which installs the ${group} CRDs, so Pulumi may create it first and the API server refuses the kind`,
          fix: `add the release to the resource's dependsOn`,
        });
      }
    }
    return out;
  },
};

/**
 * Kubernetes minor versions each KEDA minor release is tested with (KEDA's compatibility
 * matrix, https://keda.sh/docs/2.20/operate/cluster/#kubernetes-compatibility, read 2026-08;
 * the chart version equals the KEDA version, https://github.com/kedacore/charts keda/Chart.yaml).
 */
export const KEDA_KUBERNETES: Readonly<Record<string, readonly [string, string]>> = {
  "2.16": ["1.29", "1.31"],
  "2.17": ["1.30", "1.32"],
  "2.18": ["1.31", "1.33"],
  "2.19": ["1.32", "1.34"],
  "2.20": ["1.33", "1.35"],
};

const minor = (v: string): number => Number(v.split(".")[1] ?? NaN);

export const kedaSupportsKubernetes: Rule = {
  id: "keda-supports-kubernetes",
  description:
    "The KEDA chart version is one whose compatibility matrix includes the cluster's Kubernetes version",
  source: "https://keda.sh/docs/2.20/operate/cluster/#kubernetes-compatibility",
  check(ctx) {
    const cluster = ofType(ctx, "aws:eks/cluster:Cluster")[0];
    const kube = str(cluster?.inputs.version) ?? ctx.config.cluster.kubernetesVersion;
    const out: Violation[] = [];
    for (const r of ofType(ctx, HELM_RELEASE)) {
      if (str(r.inputs.chart) !== "keda") continue;
      const version = str(r.inputs.version) ?? "";
      const range = KEDA_KUBERNETES[version.split(".").slice(0, 2).join(".")];
      const known = Object.entries(KEDA_KUBERNETES)
        .map(([k, [lo, hi]]) => `${k}.x (${lo}-${hi})`)
        .join(", ");
      if (range === undefined) {
        out.push({
          resource: keyOf(r),
          field: "version",
          problem: `KEDA chart ${JSON.stringify(version)} is not in the compatibility table`,
          fix: `use one of ${known}`,
        });
      } else if (minor(kube) < minor(range[0]) || minor(kube) > minor(range[1])) {
        const fits = Object.entries(KEDA_KUBERNETES)
          .filter(([, [lo, hi]]) => minor(lo) <= minor(kube) && minor(kube) <= minor(hi))
          .map(([k]) => `${k}.x`);
        out.push({
          resource: keyOf(r),
          field: "version",
          problem: `KEDA ${version} supports Kubernetes ${range[0]}-${range[1]}, the cluster runs ${kube}`,
          fix:
            fits.length > 0
              ? `use KEDA ${fits.join(" or ")}`
              : `use a KEDA release that lists ${kube}; known: ${known}`,
        });
      }
    }
    return out;
  },
};
