/**
 * The task API's exposure (issue "nobody reaches the task system who does not belong there"):
 * its load balancer is internal unless it serves TLS only — an ACM certificate on the listener and
 * no port but 443 — and the API itself always requires authentication (a tokens file, never the
 * development flag that turns it off). Matched by the `app.kubernetes.io/name: taskfleet-api`
 * label the ingress layer sets on the Deployment and in the Service's selector.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";

type Props = Record<string, unknown>;
const obj = (v: unknown): Props =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Props) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const API_LABEL = { key: "app.kubernetes.io/name", value: "taskfleet-api" } as const;
const LB = "service.beta.kubernetes.io/aws-load-balancer-";

/** Whether a Service's load-balancer annotations make it internal (in-tree or AWS LB controller). */
export function isInternalLoadBalancer(annotations: Props): boolean {
  const internal = annotations[`${LB}internal`];
  return (
    annotations[`${LB}scheme`] === "internal" ||
    internal === true ||
    internal === "true" ||
    // The in-tree provider also takes a CIDR such as 0.0.0.0/0 to mean "internal".
    (typeof internal === "string" && internal.includes("/"))
  );
}

export const apiExposure: ResourceValidationPolicy = {
  name: "api-exposure",
  description:
    "The task API's load balancer is internal, or internet-facing with TLS only (ACM certificate, port 443 alone); the API always runs with a tokens file.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const p = args.props;
    const name = String(obj(p.metadata).name ?? args.name);
    if (args.type === "kubernetes:core/v1:Service") {
      const spec = obj(p.spec);
      if (obj(spec.selector)[API_LABEL.key] !== API_LABEL.value) return;
      if (spec.type !== "LoadBalancer" && spec.type !== "NodePort") return;
      const ann = obj(obj(p.metadata).annotations);
      if (spec.type === "LoadBalancer" && isInternalLoadBalancer(ann)) return;
      const problems: string[] = [];
      if (spec.type === "NodePort") problems.push("a NodePort opens every node's address");
      if (typeof ann[`${LB}ssl-cert`] !== "string" || ann[`${LB}ssl-cert`] === "") {
        problems.push(`no ACM certificate (annotation ${LB}ssl-cert)`);
      }
      if (ann[`${LB}ssl-ports`] !== "443") problems.push(`${LB}ssl-ports is not "443"`);
      const ports = arr(spec.ports).map((x) => obj(x).port);
      if (ports.length === 0 || ports.some((port) => port !== 443)) {
        problems.push(`it listens on ${ports.join(", ") || "no port"}, not 443 alone`);
      }
      if (problems.length > 0) {
        report(
          `Service ${name} exposes the task API to the internet without TLS only: ${problems.join("; ")}. Set ingress.exposure "internal", or give ingress.certificateArn (TLS on 443 only)`,
        );
      }
      return;
    }
    if (args.type === "kubernetes:apps/v1:Deployment") {
      const template = obj(obj(p.spec).template);
      if (obj(obj(template.metadata).labels)[API_LABEL.key] !== API_LABEL.value) return;
      for (const c of arr(obj(template.spec).containers).map(obj)) {
        const argv = arr(c.args).map(String);
        if (argv[0] !== "api") continue;
        if (argv.includes("--dangerously-disable-auth")) {
          report(
            `Deployment ${name} runs the task API with authentication off (--dangerously-disable-auth)`,
          );
        }
        if (!argv.includes("--tokens-file")) {
          const fromEnv = arr(c.env).some((e) => obj(e).name === "TASKFLEET_API_TOKENS_FILE");
          if (!fromEnv) {
            report(
              `Deployment ${name} runs the task API without a tokens file (--tokens-file): it would admit no client`,
            );
          }
        }
      }
    }
  },
};
