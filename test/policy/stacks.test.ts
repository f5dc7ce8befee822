/**
 * Every stack in `stacks/`, rendered offline by the plan engine (the whole Pulumi program under
 * mocks), passes every policy of the pack: what `pulumi preview --policy-pack policy` enforces in
 * CI holds for the stacks the repository ships.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { stackNames } from "../../cli/plan.js";
import { cachedPlan } from "../support/plans.js";
import type { RecordedResource } from "../../cli/planEngine.js";
import { isBrokerStatefulSet, POLICIES, T } from "../../policy/policies.js";
import { checkResource, checkStack, type Fixture } from "./harness.js";

/**
 * Recorded resources as policy fixtures. The engine tells stack policies which resource a property
 * came from (`propertyDependencies`); the mocks do not, but give every resource the id
 * `<name>-id`, so a top-level input equal to another resource's mock id depends on it.
 */
function fixtures(resources: readonly RecordedResource[]): Fixture[] {
  // Resources of different types may share a name (a bucket and its configurations): the id
  // belongs to the first registered, which is the one the others take the id from.
  const byId = new Map<string, RecordedResource>();
  for (const r of resources) if (r.custom && !byId.has(`${r.name}-id`)) byId.set(`${r.name}-id`, r);
  return resources.map((r) => {
    const dependsOn: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(r.inputs)) {
      const dep = typeof v === "string" ? byId.get(v) : undefined;
      if (dep && dep !== r) dependsOn[k] = [`${dep.type}::${dep.name}`];
    }
    return { type: r.type, name: r.name, props: r.inputs, dependsOn };
  });
}

const stacks = stackNames();

async function violations(fx: readonly Fixture[]): Promise<string[]> {
  const out: string[] = [];
  for (const policy of POLICIES) {
    if ("validateStack" in policy) {
      for (const v of await checkStack(policy, fx)) out.push(`${policy.name}: ${v.message}`);
    } else {
      for (const f of fx) {
        for (const m of await checkResource(policy, f)) out.push(`${policy.name}: ${m}`);
      }
    }
  }
  return out;
}

describe("the shipped stacks against the policy pack", () => {
  const rendered = new Map<string, Fixture[]>();
  beforeAll(async () => {
    for (const s of stacks) rendered.set(s, fixtures((await cachedPlan(s)).resources));
  }, 120_000);

  it("ships the three production regions and dev", () => {
    expect(stacks).toEqual(
      expect.arrayContaining(["dev", "prod-ap-southeast-1", "prod-eu-west-1", "prod-us-east-1"]),
    );
  });

  it.each(stacks)("%s has no violation", async (stack) => {
    const fx = rendered.get(stack)!;
    expect(fx.some((f) => f.type === "taskfleet:monitoring:Monitoring")).toBe(true);
    expect(await violations(fx)).toEqual([]);
  });

  it("the production render has every kind of resource the pack checks (no vacuous pass)", () => {
    const fx = rendered.get("prod-us-east-1")!;
    expect(fx.filter((f) => isBrokerStatefulSet(f.type, f.props)).map((f) => f.name)).toHaveLength(
      1,
    );
    for (const type of [
      T.storageClass,
      T.networkPolicy,
      T.launchTemplate,
      T.securityGroup,
      T.replicationGroup,
      T.openSearchDomain,
      T.s3Bucket,
      T.s3Sse,
      T.deployment,
    ]) {
      expect(
        fx.some((f) => f.type === type),
        type,
      ).toBe(true);
    }
  });

  it("the same render with four broker nodes and without the broker NetworkPolicy is rejected", async () => {
    const fx = rendered
      .get("prod-us-east-1")!
      .filter((f) => f.type !== T.networkPolicy)
      .map((f) =>
        isBrokerStatefulSet(f.type, f.props)
          ? {
              ...f,
              props: { ...f.props, spec: { ...(f.props.spec as object), replicas: 4 } },
            }
          : f,
      );
    expect((await violations(fx)).map((v) => v.split(":")[0])).toEqual([
      "broker-odd-node-count",
      "broker-network-policy",
    ]);
  });
});
