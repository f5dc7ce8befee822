/** Pod Security admission: pods meet the level their namespace enforces. */
import { describe, expect, it } from "vitest";
import { podSecurityProblems } from "../../cli/rules/podSecurity.js";
import { contextOf, expectPasses, expectRejects, setPath, withResource } from "./support.js";

const NODE_EXPORTER = "kubernetes:apps/v1:DaemonSet::taskfleet-monitoring-cluster-node-exporter";

describe("pods-meet-pod-security", () => {
  it("passes: the task system's pods are restricted, node-exporter's namespace is privileged", async () => {
    const ctx = await contextOf("prod-us-east-1");
    expectPasses("pods-meet-pod-security", ctx);
    const ns = ctx.resources.find(
      (r) =>
        r.type === "kubernetes:core/v1:Namespace" &&
        (r.inputs.metadata as { name?: string }).name === "taskfleet-node-metrics",
    )!;
    expect((ns.inputs.metadata as { labels: Record<string, string> }).labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "privileged",
    });
  });

  it("rejects node-exporter placed in the restricted task namespace, naming each control it breaks", async () => {
    const ctx = withResource(await contextOf("prod-us-east-1"), NODE_EXPORTER, (r) =>
      setPath(r, "inputs.metadata.namespace", "taskfleet"),
    );
    expectRejects("pods-meet-pod-security", ctx, {
      resource: NODE_EXPORTER,
      field: "spec.template.spec",
      problem:
        'namespace taskfleet enforces Pod Security "restricted" and refuses these pods: hostPath volume "proc"; hostPath volume "sys"; hostPath volume "root"',
      fix: 'meet the "restricted" controls, or place the workload in a namespace whose level allows it',
    });
  });

  it("knows the restricted controls beyond baseline", () => {
    expect(
      podSecurityProblems(
        {
          securityContext: { seccompProfile: { type: "RuntimeDefault" } },
          containers: [{ name: "a", securityContext: { capabilities: { add: ["NET_ADMIN"] } } }],
          volumes: [{ name: "n", nfs: { server: "x", path: "/" } }],
        },
        "restricted",
      ),
    ).toEqual([
      'container "a" adds capability NET_ADMIN',
      'container "a" allowPrivilegeEscalation is not false',
      'container "a" runAsNonRoot is not true',
      'container "a" does not drop ALL capabilities',
      'volume "n" of type nfs',
    ]);
    expect(podSecurityProblems({ hostNetwork: true, containers: [] }, "baseline")).toEqual([
      "hostNetwork: true",
    ]);
  });
});
