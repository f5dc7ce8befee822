/** Creation order: KEDA's custom resources wait for the KEDA release; its version fits the cluster. */
import { describe, expect, it } from "vitest";
import {
  contextOf,
  expectPasses,
  expectRejects,
  setPath,
  withConfig,
  withResource,
} from "./support.js";

const SCALER = "kubernetes:keda.sh/v1alpha1:ScaledObject::taskfleet-workers-default-scaler";
const AUTH =
  "kubernetes:keda.sh/v1alpha1:TriggerAuthentication::taskfleet-workers-default-trigger-auth";
const KEDA = "kubernetes:helm.sh/v3:Release::taskfleet-compute-keda";

describe("crd-before-custom-resources", () => {
  it("passes: every ScaledObject and TriggerAuthentication depends on the KEDA release", async () => {
    const ctx = await contextOf("prod-us-east-1");
    expectPasses("crd-before-custom-resources", ctx);
    const scaler = ctx.resources.find((r) => `${r.type}::${r.name}` === SCALER)!;
    expect(scaler.dependsOn).toContain(KEDA);
  });

  it("rejects a ScaledObject that does not wait for the release, naming it, dependsOn and the fix", async () => {
    let ctx = await contextOf("prod-us-east-1");
    // The TriggerAuthentication depends on the release too; cut both paths.
    for (const key of [SCALER, AUTH]) {
      ctx = withResource(ctx, key, (r) => ({
        ...r,
        dependsOn: r.dependsOn.filter((d) => d !== KEDA),
      }));
    }
    const found = expectRejects("crd-before-custom-resources", ctx, {
      field: "dependsOn",
      fix: "add the release to the resource's dependsOn",
    });
    expect(found.map((v) => v.resource).sort()).toEqual([AUTH, SCALER].sort());
    expect(found[0]!.problem).toContain(KEDA);
  });

  it("rejects KEDA objects when no release installs KEDA and the stack says it should", async () => {
    const ctx = withResource(await contextOf("prod-us-east-1"), KEDA, () => undefined);
    expectRejects("crd-before-custom-resources", ctx, {
      field: "apiVersion",
      fix: /taskfleet:cluster\.installKeda: false/,
    });
    // A cluster that brings KEDA itself is fine.
    expectPasses(
      "crd-before-custom-resources",
      withConfig(ctx, (c) => ({ ...c, cluster: { ...c.cluster, installKeda: false } })),
    );
  });
});

describe("keda-supports-kubernetes", () => {
  it("passes: the KEDA chart supports the stacks' Kubernetes 1.33", async () => {
    expectPasses("keda-supports-kubernetes", await contextOf("prod-eu-west-1"));
  });

  it("rejects KEDA 2.16 on Kubernetes 1.33, naming the versions that fit", async () => {
    const ctx = withResource(await contextOf("prod-eu-west-1"), KEDA, (r) =>
      setPath(r, "inputs.version", "2.16.1"),
    );
    expectRejects("keda-supports-kubernetes", ctx, {
      resource: KEDA,
      field: "version",
      problem: "KEDA 2.16.1 supports Kubernetes 1.29-1.31, the cluster runs 1.33",
      fix: "use KEDA 2.18.x or 2.19.x or 2.20.x",
    });
  });

  it("rejects a KEDA version missing from the table, listing the known ones", async () => {
    const ctx = withResource(await contextOf("prod-eu-west-1"), KEDA, (r) =>
      setPath(r, "inputs.version", "3.0.0"),
    );
    expectRejects("keda-supports-kubernetes", ctx, {
      problem: 'KEDA chart "3.0.0" is not in the compatibility table',
      fix: /^use one of 2\.16\.x \(1\.29-1\.31\), .*2\.20\.x \(1\.33-1\.35\)$/,
    });
  });
});
