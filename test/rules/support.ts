/**
 * Helpers for the rule tests: plan a shipped stack once per file (the whole program under
 * Pulumi's mocks, as `taskfleet plan` runs it), derive a context with one thing made wrong, and
 * assert a rule rejects it.
 */
import { expect } from "vitest";
import { stackFolder, type PlanResult } from "../../cli/plan.js";
import { formatFinding, ruleById } from "../../cli/rules/registry.js";
import {
  keyOf,
  type PlannedResource,
  type RuleContext,
  type Violation,
} from "../../cli/rules/rule.js";
import type { RegionConfig } from "../../components/config/regionConfig.js";

import { cachedPlan } from "../support/plans.js";

/** The plan of a shipped stack (planned once per test run). */
export function planOf(stack: string): Promise<PlanResult> {
  return cachedPlan(stack);
}

/** The rule context `taskfleet plan` builds for a shipped stack. */
export async function contextOf(stack: string): Promise<RuleContext> {
  const plan = await planOf(stack);
  const stacks = stackFolder();
  const config = stacks.find((s) => s.name === stack)!.config;
  return { stack, config, resources: plan.resources, stacks };
}

/** A copy of `ctx` whose resource `key` (`<type>::<name>`) is replaced by `change(resource)`. */
export function withResource(
  ctx: RuleContext,
  key: string,
  change: (r: PlannedResource) => PlannedResource | undefined,
): RuleContext {
  if (!ctx.resources.some((r) => keyOf(r) === key)) {
    throw new Error(`no resource ${key} in the plan of ${ctx.stack}`);
  }
  const resources: PlannedResource[] = [];
  for (const r of ctx.resources) {
    const next = keyOf(r) === key ? change(r) : r;
    if (next !== undefined) resources.push(next);
  }
  return { ...ctx, resources };
}

/** A copy of `ctx` with its config changed. */
export function withConfig(
  ctx: RuleContext,
  change: (c: RegionConfig) => RegionConfig,
): RuleContext {
  return { ...ctx, config: change(ctx.config) };
}

/** Deep copy with the value at a dotted path replaced (`spec.template.spec.containers.0.image`). */
export function setPath<T>(value: T, path: string, next: unknown): T {
  const copy = structuredClone(value) as Record<string, unknown>;
  const keys = path.split(".");
  let cur: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[keys[keys.length - 1]!] = next;
  return copy as T;
}

/** The rule passes on `ctx`. */
export function expectPasses(ruleId: string, ctx: RuleContext): void {
  const found = ruleById(ruleId).check(ctx);
  expect(found.map((v) => formatFinding({ rule: ruleId, ...v }))).toEqual([]);
}

/**
 * The rule rejects `ctx`: returns its violations after checking that each names a resource,
 * a field, the problem and a fix, and that the first matches `expected` where given.
 */
export function expectRejects(
  ruleId: string,
  ctx: RuleContext,
  expected: Partial<Record<keyof Violation, string | RegExp>> = {},
): readonly Violation[] {
  const found = ruleById(ruleId).check(ctx);
  expect(found.length, `${ruleId} found nothing`).toBeGreaterThan(0);
  for (const v of found) {
    expect(v.resource).not.toBe("");
    expect(v.field).not.toBe("");
    expect(v.problem).not.toBe("");
    expect(v.fix).not.toBe("");
  }
  const first = found[0]!;
  for (const [k, want] of Object.entries(expected)) {
    const got = first[k as keyof Violation];
    if (want instanceof RegExp) expect(got).toMatch(want);
    else expect(got).toBe(want);
  }
  return found;
}
