/**
 * What a plan rule is and what it sees. A rule encodes one thing AWS or Kubernetes enforces (or
 * needs) that Pulumi's mocks do not know — capacity, name limits, provider conflicts, network
 * paths, creation order — as a check over the resources a stack's plan recorded. Pure: no Pulumi
 * import, no I/O, so `taskfleet plan`, the tests and the policy pack can run the same rules.
 */
import type { RegionConfig } from "../../components/config/regionConfig.js";

/** One resource of a plan: what `taskfleet plan` writes to resources.json. */
export interface PlannedResource {
  readonly type: string;
  readonly name: string;
  /** Name of the parent resource (`undefined` at the stack's top level). */
  readonly parent?: string;
  /** A custom (provider-backed) resource rather than a component. */
  readonly custom: boolean;
  /** The inputs as registered; values the program marked secret are `{ secret: value }`. */
  readonly inputs: Record<string, unknown>;
  /** Direct dependencies (explicit `dependsOn` and input sources), as `<type>::<name>`. */
  readonly dependsOn: readonly string[];
  /** The provider resource, as `<type>::<name>`. */
  readonly provider?: string;
  readonly protect: boolean;
  readonly ignoreChanges: readonly string[];
}

/** A stack of the same deployment (the stack folder), by config only. */
export interface StackInfo {
  /** Short stack name, e.g. `prod-eu-west-1`. */
  readonly name: string;
  readonly config: RegionConfig;
}

/** What every rule gets. */
export interface RuleContext {
  /** The stack being planned (short name). */
  readonly stack: string;
  readonly config: RegionConfig;
  readonly resources: readonly PlannedResource[];
  /** Every stack of the folder, this one included (cross-region rules). */
  readonly stacks: readonly StackInfo[];
}

/** One thing wrong, said so that the reader can fix it without reading the rule. */
export interface Violation {
  /** The resource, `<type>::<name>` (or the stack key, for a rule over config). */
  readonly resource: string;
  /** The input path (`spec.template.spec.containers[0].resources.requests.cpu`) or stack key. */
  readonly field: string;
  /** What is wrong, with the values involved. */
  readonly problem: string;
  /** What to change. */
  readonly fix: string;
}

export interface Rule {
  /** Unique kebab-case id, printed with every violation. */
  readonly id: string;
  /** The AWS or Kubernetes rule, in one sentence. */
  readonly description: string;
  /** Where the fact comes from (documentation or source URL), so a reader can re-check it. */
  readonly source: string;
  check(ctx: RuleContext): readonly Violation[];
}

/** A violation together with the rule that found it. */
export interface Finding extends Violation {
  readonly rule: string;
}

/** `[rule] resource field: problem; fix: fix` — the one line `taskfleet plan` prints. */
export function formatFinding(f: Finding): string {
  return `[${f.rule}] ${f.resource} ${f.field}: ${f.problem}; fix: ${f.fix}`;
}

/** `<type>::<name>` of a resource, the key dependencies and providers use. */
export function keyOf(r: Pick<PlannedResource, "type" | "name">): string {
  return `${r.type}::${r.name}`;
}

// ---------------------------------------------------------------- helpers rules share

export type Props = Record<string, unknown>;

export const obj = (v: unknown): Props =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Props) : {};
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Unwraps `{ secret: value }` (a value the program marked secret). */
export function plain(v: unknown): unknown {
  const o = obj(v);
  return Object.keys(o).length === 1 && "secret" in o ? o.secret : v;
}

/** The resources of one type. */
export function ofType(ctx: RuleContext, type: string): PlannedResource[] {
  return ctx.resources.filter((r) => r.type === type);
}

/** Every resource `r` waits for, directly or through others (the creation order Pulumi follows). */
export function transitiveDependencies(
  resources: readonly PlannedResource[],
  r: PlannedResource,
): Set<string> {
  const byKey = new Map(resources.map((x) => [keyOf(x), x]));
  const seen = new Set<string>();
  const todo = [...r.dependsOn];
  while (todo.length > 0) {
    const k = todo.pop()!;
    if (seen.has(k)) continue;
    seen.add(k);
    todo.push(...(byKey.get(k)?.dependsOn ?? []));
  }
  return seen;
}
