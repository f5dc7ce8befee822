/**
 * Helpers for component tests: install Pulumi's mocks (before any component is imported), then
 * look up what a component registered.
 */
import {
  installMocks,
  type MockEngine,
  type MockEngineOptions,
  type RecordedResource,
} from "../../cli/planEngine.js";

export type { RecordedResource };

/** What an EKS stack must say about reaching its API server (`taskfleet:cluster`), for tests. */
export const EKS_ACCESS = Object.freeze({
  publicAccessCidrs: ["203.0.113.0/24"],
  deployRoleArn: "arn:aws:iam::111122223333:role/taskfleet-deploy",
});

export async function mocked(options: MockEngineOptions = {}): Promise<MockEngine> {
  return installMocks(options);
}

/** The one resource of `type` named `name`; fails listing what exists when it is missing. */
export function find(
  resources: readonly RecordedResource[],
  type: string,
  name: string,
): RecordedResource {
  const hit = resources.find((r) => r.type === type && r.name === name);
  if (!hit) {
    const same = resources.filter((r) => r.type === type).map((r) => r.name);
    throw new Error(`no ${type} named ${name}; ${type} resources: ${JSON.stringify(same)}`);
  }
  return hit;
}

export function ofType(resources: readonly RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}

/** Reads a nested input by dotted path (`spec.template.spec.containers.0.image`). */
export function at(value: unknown, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>(
      (v, k) => (v === null || v === undefined ? undefined : (v as Record<string, unknown>)[k]),
      value,
    );
}
