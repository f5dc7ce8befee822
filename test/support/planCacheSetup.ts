/**
 * Global setup: a folder where the first suite to plan a shipped stack (the whole program under
 * Pulumi's mocks, 5-15 s each) leaves the result for the others, for this run only.
 */
import type { TestProject } from "vitest/node";
import { tempDir } from "./tmp.js";

declare module "vitest" {
  export interface ProvidedContext {
    planCacheDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = tempDir("taskfleet-plans-");
  project.provide("planCacheDir", dir.path);
  return dir.cleanup;
}
