/**
 * The plan of a shipped stack, computed once per test run: `planStack` (the program under
 * Pulumi's mocks, as `taskfleet plan` runs it), kept as JSON in the run's plan folder
 * (planCacheSetup.ts) so every suite reads the same plan. What comes back is the JSON form in
 * every case (undefined inputs dropped), whichever suite planned it.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";
import { planStack, type PlanResult } from "../../cli/plan.js";

const inFile = new Map<string, Promise<PlanResult>>();

async function load(stack: string): Promise<PlanResult> {
  const file = join(inject("planCacheDir"), `${stack}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as PlanResult;
  const text = JSON.stringify(await planStack(stack));
  // Another worker may plan the same stack meanwhile: write aside, then rename (atomic).
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return JSON.parse(text) as PlanResult;
}

export function cachedPlan(stack: string): Promise<PlanResult> {
  let p = inFile.get(stack);
  if (p === undefined) {
    p = load(stack);
    inFile.set(stack, p);
  }
  return p;
}
