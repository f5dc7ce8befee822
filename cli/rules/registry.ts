/**
 * The rules `taskfleet plan` runs over every stack's plan (and that the tests run over every
 * shipped stack). A plan with a finding exits 1 and prints one line per finding:
 *
 *   [rule-id] <type>::<name> <field>: <what is wrong>; fix: <what to change>
 *
 * How to add a rule
 * 1. Put it in the file of its domain (one rule or a few per file, each file small):
 *    capacity.ts (pods fit nodes), order.ts (creation order, CRDs), names.ts (physical names),
 *    access.ts (who reaches the cluster), network.ts (paths between regions), ... or a new file.
 * 2. Export a `Rule` (rule.ts): a unique kebab-case `id`; `description`, the AWS or Kubernetes
 *    rule in one sentence; `source`, the URL where you confirmed it (and a comment next to the
 *    numbers or the condition citing it); `check(ctx)`, returning a `Violation` per problem that
 *    names the resource (`keyOf(r)`), the field (input path, or stack key for config), the
 *    problem with the values involved, and the fix.
 * 3. Add it to `RULES` below.
 * 4. Test it in test/rules/<domain>.test.ts: the shipped stacks pass it (test/rules/stacks.test.ts
 *    runs every rule on every stack), and at least one negative case — a plan with one field made
 *    wrong — calls `expectRejects("<rule-id>", ctx, ...)` and asserts the message names the
 *    resource, the field and the fix. test/rules/registry.test.ts fails for a rule without one.
 */
import { eksAccessEntries, eksEndpointReachable } from "./access.js";
import {
  instanceTypeKnown,
  nodeAmiArchitecture,
  podFitsNode,
  podHasANodePool,
  poolHoldsMaxReplicas,
} from "./capacity.js";
import { kubernetesObjectNames, physicalNameLimits, physicalNamePerStack } from "./names.js";
import { kedaSupportsKubernetes, customResourcesAfterTheirCrds } from "./order.js";
import { podsMeetPodSecurity } from "./podSecurity.js";
import { formatFinding, type Finding, type Rule, type RuleContext } from "./rule.js";

export const RULES: readonly Rule[] = [
  // creation order
  customResourcesAfterTheirCrds,
  kedaSupportsKubernetes,
  // capacity
  instanceTypeKnown,
  nodeAmiArchitecture,
  podHasANodePool,
  podFitsNode,
  poolHoldsMaxReplicas,
  // who reaches the cluster
  eksEndpointReachable,
  eksAccessEntries,
  // names
  physicalNameLimits,
  physicalNamePerStack,
  kubernetesObjectNames,
  // admission
  podsMeetPodSecurity,
];

/** Runs `rules` over one stack's plan. */
export function runRules(ctx: RuleContext, rules: readonly Rule[] = RULES): Finding[] {
  return rules.flatMap((rule) => rule.check(ctx).map((v) => ({ rule: rule.id, ...v })));
}

/** The rule of this id (throws listing the ids when there is none). */
export function ruleById(id: string, rules: readonly Rule[] = RULES): Rule {
  const rule = rules.find((r) => r.id === id);
  if (rule === undefined) {
    throw new Error(`no rule ${JSON.stringify(id)}; rules: ${rules.map((r) => r.id).join(", ")}`);
  }
  return rule;
}

export { formatFinding };
