/** Every shipped stack passes every cloud rule, as `taskfleet plan` runs them. */
import { describe, expect, it } from "vitest";
import { stackNames } from "../../cli/plan.js";
import { formatFinding } from "../../cli/rules/rule.js";
import { planOf } from "./support.js";

describe.each(stackNames())("stack %s", (stack) => {
  it("passes every cloud rule", async () => {
    const plan = await planOf(stack);
    expect(plan.findings.map(formatFinding)).toEqual([]);
  }, 60_000);
});
