/**
 * Physical names: each fits its service's length and character rules, and each name AWS requires
 * unique carries the stack, so a second stack in the same account does not fail with "already
 * exists". Kubernetes object names fit the API server's rules.
 */
import {
  carriesStack,
  NAME_LIMITS,
  physicalName,
  type NameLimit,
} from "../../components/config/physicalNames.js";
import { keyOf, obj, str, type PlannedResource, type Rule, type Violation } from "./rule.js";

/** Every explicit name (or prefix) in a plan, with the rule it falls under. */
export function explicitNames(resources: readonly PlannedResource[]): {
  resource: PlannedResource;
  limit: NameLimit;
  field: string;
  value: string;
  prefix: boolean;
}[] {
  const out: ReturnType<typeof explicitNames> = [];
  for (const r of resources) {
    for (const limit of NAME_LIMITS.filter((l) => l.type === r.type)) {
      const full = str(r.inputs[limit.field]);
      if (full !== undefined)
        out.push({ resource: r, limit, field: limit.field, value: full, prefix: false });
      const prefix = limit.prefixField ? str(r.inputs[limit.prefixField]) : undefined;
      if (prefix !== undefined)
        out.push({ resource: r, limit, field: limit.prefixField!, value: prefix, prefix: true });
    }
  }
  return out;
}

// Sources per name in components/config/physicalNames.ts (NAME_LIMITS[].source).
export const physicalNameLimits: Rule = {
  id: "physical-name-limits",
  description:
    "Every explicit physical name (or name prefix) fits its service's length and character rules (load balancers and target groups 32, IAM roles 64, S3 3-63 lowercase, ElastiCache 40, OpenSearch 28, ...)",
  source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
  check(ctx) {
    const out: Violation[] = [];
    for (const n of explicitNames(ctx.resources)) {
      const { limit } = n;
      const max = n.prefix ? (limit.prefixMax ?? limit.max) : limit.max;
      const min = n.prefix ? 1 : limit.min;
      const lower = /^lowercase/.test(limit.allowed);
      const shape = n.prefix ? (lower ? /^[a-z0-9.-]+$/ : /^[\w.+=,@/#-]+$/) : limit.pattern;
      const tooLong = n.value.length > max;
      const tooShort = n.value.length < min;
      const badChars = !shape.test(n.value);
      if (!tooLong && !tooShort && !badChars) continue;
      out.push({
        resource: keyOf(n.resource),
        field: n.field,
        problem: `${JSON.stringify(n.value)} ${tooLong ? `has ${n.value.length} characters; the limit is ${max}` : tooShort ? `has ${n.value.length} characters; at least ${min} are needed` : `is not allowed: use ${limit.allowed}`} (${limit.source})`,
        fix: `name it with physicalName(stack, purpose, ${max}) from components/config/physicalNames.ts`,
      });
    }
    return out;
  },
};

export const physicalNamePerStack: Rule = {
  id: "physical-name-per-stack",
  description:
    "Every explicit name AWS requires unique in a region, an account or across AWS carries the stack, so two stacks in one account never collide",
  source: "https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming",
  check(ctx) {
    const out: Violation[] = [];
    for (const n of explicitNames(ctx.resources)) {
      if (carriesStack(n.value, ctx.stack)) continue;
      const max = n.prefix ? (n.limit.prefixMax ?? n.limit.max) - 1 : n.limit.max;
      out.push({
        resource: keyOf(n.resource),
        field: n.field,
        problem: `${JSON.stringify(n.value)} does not carry the stack ${JSON.stringify(ctx.stack)}, and ${n.limit.scope === "global" ? "it must be unique across AWS" : `it must be unique in the ${n.limit.scope}`}: a second stack in the account fails with "already exists"`,
        fix: `use physicalName(stack, purpose, ${max}) (here ${JSON.stringify(physicalName(ctx.stack, "purpose", max))}), or leave the name to Pulumi's autonaming`,
      });
    }
    return out;
  },
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kind → the name rule the API server applies (default: DNS-1123 subdomain, 253). */
const K8S_NAME_RULES: Readonly<Record<string, { re: RegExp; max: number; what: string }>> = {
  Service: { re: DNS_1035, max: 63, what: "a DNS-1035 label (lowercase, starting with a letter)" },
  Namespace: { re: DNS_LABEL, max: 63, what: "a DNS-1123 label" },
  // The controller-revision-hash label is "<name>-<10-char hash>" and labels hold 63 characters
  // (https://github.com/kubernetes/kubernetes/issues/64023).
  StatefulSet: { re: DNS_LABEL, max: 52, what: "a DNS-1123 label" },
  // https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#writing-a-cronjob-spec
  CronJob: { re: DNS_LABEL, max: 52, what: "a DNS-1123 label" },
};

// https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
export const kubernetesObjectNames: Rule = {
  id: "kubernetes-object-names",
  description:
    "Kubernetes object names are what the API server accepts for their kind (DNS-1123 subdomains; labels of 63 for Services and Namespaces, 52 for StatefulSets)",
  source: "https://kubernetes.io/docs/concepts/overview/working-with-objects/names/",
  check(ctx) {
    const out: Violation[] = [];
    for (const r of ctx.resources) {
      if (!r.type.startsWith("kubernetes:") || r.type.startsWith("kubernetes:helm.sh/")) continue;
      const name = str(obj(r.inputs.metadata).name);
      if (name === undefined) continue; // the provider names it
      const kind = r.type.split(":").pop() ?? "";
      const rule = K8S_NAME_RULES[kind] ?? {
        re: DNS_SUBDOMAIN,
        max: 253,
        what: "a DNS-1123 subdomain",
      };
      if (name.length <= rule.max && rule.re.test(name)) continue;
      out.push({
        resource: keyOf(r),
        field: "metadata.name",
        problem: `${JSON.stringify(name)} (${name.length} characters) is not ${rule.what} of at most ${rule.max} characters`,
        fix: "shorten the component's name or use k8sName() from components/k8s/objects.ts",
      });
    }
    return out;
  },
};
