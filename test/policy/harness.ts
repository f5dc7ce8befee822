/**
 * Calls CrossGuard policies the way the Pulumi engine does, without the engine: builds the
 * `ResourceValidationArgs` / `StackValidationArgs` a policy receives and collects what it reports.
 * (`@pulumi/policy` exports no test helper: its PolicyPack constructor starts the analyzer's gRPC
 * server, so tests call the policies' own `validateResource` / `validateStack`.)
 */
import type {
  PolicyResource,
  ResourceValidation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";

export interface Fixture {
  type: string;
  name: string;
  props: Record<string, unknown>;
  /** Fixtures this one's properties depend on, by property: `name` or `type::name`. */
  dependsOn?: Record<string, string[]>;
}

export interface Violation {
  message: string;
  urn?: string;
}

export const urnOf = (type: string, name: string): string =>
  `urn:pulumi:test::taskfleet::${type}::${name}`;

const OPTS = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

function notApplicable(reason?: string): never {
  throw new Error(`notApplicable: ${reason ?? ""}`);
}

function resourceArgs(f: Fixture): ResourceValidationArgs {
  return {
    type: f.type,
    name: f.name,
    urn: urnOf(f.type, f.name),
    props: f.props,
    opts: OPTS,
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => ({}) as T,
    notApplicable,
  };
}

/** Messages a resource policy reports for one resource. */
export async function checkResource(
  policy: ResourceValidationPolicy,
  fixture: Fixture,
): Promise<string[]> {
  const out: string[] = [];
  const fns: ResourceValidation[] = Array.isArray(policy.validateResource)
    ? policy.validateResource
    : policy.validateResource
      ? [policy.validateResource]
      : [];
  for (const fn of fns) await fn(resourceArgs(fixture), (message) => out.push(message));
  return out;
}

/** Violations a stack policy reports for a set of resources. */
export async function checkStack(
  policy: StackValidationPolicy,
  fixtures: readonly Fixture[],
): Promise<Violation[]> {
  const resources: PolicyResource[] = fixtures.map((f) => ({
    type: f.type,
    name: f.name,
    urn: urnOf(f.type, f.name),
    props: f.props,
    opts: OPTS,
    dependencies: [],
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
  }));
  const byName = new Map<string, PolicyResource>();
  for (const r of resources) {
    byName.set(`${r.type}::${r.name}`, r);
    if (!byName.has(r.name)) byName.set(r.name, r);
  }
  fixtures.forEach((f, i) => {
    for (const [prop, names] of Object.entries(f.dependsOn ?? {})) {
      const deps = names.map((n) => {
        const dep = byName.get(n);
        if (!dep) throw new Error(`dependsOn: no fixture ${n}`);
        return dep;
      });
      resources[i]!.propertyDependencies[prop] = deps;
      resources[i]!.dependencies.push(...deps);
    }
  });
  const args: StackValidationArgs = {
    resources,
    stackTags: new Map(),
    getConfig: <T extends object>() => ({}) as T,
    notApplicable,
  };
  const out: Violation[] = [];
  await policy.validateStack(args, (message, urn) => out.push({ message, urn }));
  return out;
}
