/**
 * The registry's contract: ids unique and kebab-case, every rule says what it encodes and where
 * the fact comes from, and every rule has a negative test (an `expectRejects("<id>"` call in a
 * test file of this folder).
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RULES, ruleById, runRules } from "../../cli/rules/registry.js";
import { formatFinding } from "../../cli/rules/rule.js";

const DIR = new URL("./", import.meta.url).pathname;
const testSources = readdirSync(DIR)
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => readFileSync(`${DIR}${f}`, "utf8"))
  .join("\n");

describe("the rule registry", () => {
  it("has unique kebab-case ids, a description and an http(s) source for every rule", () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of RULES) {
      expect(r.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(r.description.length, r.id).toBeGreaterThan(20);
      expect(r.source, r.id).toMatch(/^https?:\/\//);
    }
  });

  it.each(RULES.map((r) => r.id))("%s has a negative test", (id) => {
    expect(testSources).toContain(`expectRejects("${id}"`);
  });

  it("names the unknown rule and lists the known ones", () => {
    expect(() => ruleById("no-such-rule")).toThrow(
      `no rule "no-such-rule"; rules: ${RULES.map((r) => r.id).join(", ")}`,
    );
  });

  it("tags each violation with its rule and prints it on one line", () => {
    const rule = {
      id: "always-fails",
      description: "a rule for this test that rejects every plan",
      source: "https://example.com/",
      check: () => [{ resource: "t::n", field: "f", problem: "p", fix: "x" }],
    };
    const ctx = { stack: "s", config: {} as never, resources: [], stacks: [] };
    const [finding] = runRules(ctx, [rule]);
    expect(formatFinding(finding!)).toBe("[always-fails] t::n f: p; fix: x");
  });
});
