/**
 * `taskfleet plan --stack <name> --out <dir>`: runs the Pulumi program for one stack with
 * Pulumi's mocks — no cloud, no Pulumi CLI — and writes what it would create:
 *   resources.json   every resource's type, name, parent and inputs (secrets as "[secret]")
 *   kubernetes.yaml  every Kubernetes object, as a multi-document YAML
 *   outputs.json     the stack outputs (secrets as "[secret]")
 *   rules.json       the cloud rules run over the plan (cli/rules/registry.ts) and their findings
 * Bad config exits non-zero with the validation message, before anything is "created". A plan
 * that breaks a cloud rule is written, and the command exits 1 printing one line per finding.
 * Peer stacks' outputs (federation, Global Datastore) get placeholder values.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { placeholderAlertingSecrets } from "../components/config/alertingConfig.js";
import { parseRegionConfig } from "../components/config/regionConfig.js";
import { validateStacks, type NamedStack } from "../components/config/stacks.js";
import { planRegion } from "../components/regionPlan.js";
import { formatFinding, RULES, runRules } from "./rules/registry.js";
import type { Finding, StackInfo } from "./rules/rule.js";
import {
  installMocks,
  kubernetesObjects,
  redactSecrets,
  type RecordedResource,
} from "./planEngine.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const STACKS_DIR = join(REPO, "stacks");

export interface PlanResult {
  readonly resources: RecordedResource[];
  readonly kubernetes: Record<string, unknown>[];
  readonly outputs: Record<string, unknown>;
  /** What the cloud rules found (empty when the plan passes them all). */
  readonly findings: Finding[];
}

/** Lists the stacks in `stacks/` (`Pulumi.<name>.yaml`). */
export function stackNames(dir = STACKS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

/** Defaults declared in Pulumi.yaml's `config:` block (Pulumi applies them to keys a stack omits). */
export function projectDefaults(file = join(REPO, "Pulumi.yaml")): Record<string, unknown> {
  const doc = (YAML.parse(readFileSync(file, "utf8")) ?? {}) as {
    config?: Record<string, { default?: unknown }>;
  };
  const out: Record<string, unknown> = {};
  for (const [k, decl] of Object.entries(doc.config ?? {})) {
    if (decl && typeof decl === "object" && "default" in decl)
      out[k.includes(":") ? k : `taskfleet:${k}`] = decl.default;
  }
  return out;
}

/** The `taskfleet:*` values of a stack file with the project defaults, keyed without the prefix (plus the full map for Pulumi). */
export function readStackFile(
  stack: string,
  dir = STACKS_DIR,
): { values: Record<string, unknown>; config: Record<string, unknown> } {
  const file = join(dir, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) {
    throw new PlanError(
      `stack ${JSON.stringify(stack)}: ${file} does not exist; stacks: ${stackNames(dir).join(", ") || "none"}`,
    );
  }
  const doc = (YAML.parse(readFileSync(file, "utf8")) ?? {}) as {
    config?: Record<string, unknown>;
  };
  const config = { ...projectDefaults(), ...(doc.config ?? {}) };
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (k.startsWith("taskfleet:")) values[k.slice("taskfleet:".length)] = v;
  }
  return { values, config };
}

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanError";
  }
}

/** Placeholder outputs for every stack a stack reads through a StackReference. */
function peerOutputs(values: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const refs = new Set<string>();
  const fed = values.federation as { peers?: { stack?: string }[] } | undefined;
  for (const p of fed?.peers ?? []) if (typeof p.stack === "string") refs.add(p.stack);
  const gd = (
    values.storage as { redis?: { globalDatastore?: { primaryStack?: string } } } | undefined
  )?.redis?.globalDatastore;
  if (typeof gd?.primaryStack === "string") refs.add(gd.primaryStack);
  const out: Record<string, Record<string, unknown>> = {};
  for (const ref of refs) {
    const short = ref.split("/").pop() ?? ref;
    out[ref] = {
      brokerFederationUris: [`amqp://${short}-broker.elb.mock:5672`],
      brokerFederationPassword: `mock-${short}-federation-password`,
      brokerEndpoint: `${short}-broker.elb.mock`,
      resultBackendGlobalDatastoreId: `mock-global-${short}`,
      resultBackendAuthToken: `mock-${short}-auth-token`,
      resultBackendHost: `master.${short}.cache.mock`,
    };
  }
  return out;
}

/** Every stack of the folder with its parsed config. */
export function stackFolder(dir = STACKS_DIR): StackInfo[] {
  return stackNames(dir).map((name) => ({
    name,
    config: parseRegionConfig(readStackFile(name, dir).values),
  }));
}

/** Checks the cross-stack rules over every stack file next to this one (Global Datastore, CIDRs). */
export function validateStackFolder(dir = STACKS_DIR): void {
  const stacks: NamedStack[] = stackFolder(dir).map((s) => ({
    fullName: `taskfleet/${s.name}`,
    config: s.config,
  }));
  validateStacks(stacks);
}

/** Runs the program for `stack` under mocks and returns what it registered. */
export async function planStack(stack: string, dir = STACKS_DIR): Promise<PlanResult> {
  const { values, config } = readStackFile(stack, dir);
  // Config errors surface here, before the program runs (as the entry program does before any resource).
  const regionConfig = parseRegionConfig(values);
  planRegion(regionConfig, values.broker);
  validateStackFolder(dir);
  const engine = await installMocks({
    project: "taskfleet",
    stack,
    // Stack secrets the stack file lacks (set with `pulumi config set --secret`) get stand-ins.
    config: { ...placeholderAlertingSecrets(values), ...config },
    stackOutputs: peerOutputs(values),
  });
  const program = (await import(pathToFileURL(join(REPO, "index.ts")).href)) as {
    default: () => Promise<Record<string, pulumi.Output<unknown>>>;
  };
  let outputs: Record<string, unknown> = {};
  try {
    const resolved = await pulumi.runtime.runInPulumiStack(async () => {
      const o = await program.default();
      const plain: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) {
        const secret = await pulumi.isSecret(v);
        plain[k] = secret ? "[secret]" : v;
      }
      return plain;
    });
    outputs = redactSecrets(resolved ?? {}) as Record<string, unknown>;
  } finally {
    await engine.settle();
  }
  const findings = runRules({
    stack,
    config: regionConfig,
    resources: engine.resources,
    stacks: stackFolder(dir),
  });
  return {
    resources: engine.resources,
    kubernetes: kubernetesObjects(engine.resources),
    outputs,
    findings,
  };
}

function usage(): string {
  return "usage: taskfleet plan --stack <name> --out <dir> [--stacks-dir <dir>]\n";
}

export async function run(argv: string[]): Promise<number> {
  let stack: string | undefined;
  let out: string | undefined;
  let dir = STACKS_DIR;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--stack") stack = argv[++i];
    else if (a === "--out") out = argv[++i];
    else if (a === "--stacks-dir") dir = resolve(argv[++i] ?? "");
    else if (a === "--help" || a === "-h") {
      process.stdout.write(usage());
      return 0;
    } else {
      process.stderr.write(`unknown argument ${JSON.stringify(a)}\n${usage()}`);
      return 2;
    }
  }
  if (!stack || !out) {
    process.stderr.write(`--stack and --out are required\n${usage()}`);
    return 2;
  }
  let result: PlanResult;
  try {
    result = await planStack(stack, dir);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  mkdirSync(out, { recursive: true });
  const resources = result.resources.map((r) => ({
    type: r.type,
    name: r.name,
    parent: r.parent ?? null,
    parentType: r.parentType ?? null,
    provider: r.provider ?? null,
    dependsOn: r.dependsOn,
    protect: r.protect,
    ignoreChanges: r.ignoreChanges,
    inputs: redactSecrets(r.inputs),
  }));
  writeFileSync(join(out, "resources.json"), JSON.stringify(resources, null, 2) + "\n");
  writeFileSync(
    join(out, "kubernetes.yaml"),
    result.kubernetes.map((o) => YAML.stringify(o)).join("---\n"),
  );
  writeFileSync(join(out, "outputs.json"), JSON.stringify(result.outputs, null, 2) + "\n");
  const rules = {
    rules: RULES.map((r) => ({ id: r.id, description: r.description, source: r.source })),
    findings: result.findings,
  };
  writeFileSync(join(out, "rules.json"), JSON.stringify(rules, null, 2) + "\n");
  const k8sCount = result.kubernetes.length;
  process.stdout.write(
    `plan ${stack}: ${resources.length} resources (${k8sCount} Kubernetes objects) written to ${out}/resources.json, kubernetes.yaml, outputs.json, rules.json\n`,
  );
  if (result.findings.length > 0) {
    process.stderr.write(
      `plan ${stack}: ${result.findings.length} of the cloud rules' checks failed:\n` +
        result.findings.map((f) => `  ${formatFinding(f)}\n`).join(""),
    );
    return 1;
  }
  process.stdout.write(`plan ${stack}: all ${RULES.length} cloud rules pass\n`);
  return 0;
}
