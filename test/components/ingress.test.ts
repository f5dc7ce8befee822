import { beforeAll, describe, expect, it } from "vitest";
import {
  apiObjects,
  apiRoutingArgs,
  type ApiContext,
} from "../../components/ingress/apiManifests.js";
import { parseRegionConfig } from "../../components/config/regionConfig.js";
import { kubernetesObjects } from "../../cli/planEngine.js";
import { apiExposure } from "../../policy/apiExposure.js";
import { sha256Hex, ClientRegistry } from "../../worker-runtime/src/api/auth.js";
import { checkResource } from "../policy/harness.js";
import { validateK8s } from "./k8sSchema.js";
import { at, find, mocked, ofType, type RecordedResource } from "./support.js";

const BASE = {
  region: "eu-west-1",
  image: "img:1",
  brokerUrl: "amqp://producers:pw@broker:5672/%2f",
  resultBackendUrl: "rediss://:tok@redis:6379/0",
  clients: [{ id: "ci", tasks: ["reports.*"] }],
};
const CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7";
const CTX: ApiContext = {
  instance: "i",
  namespace: "taskfleet",
  image: "img:1",
  region: "eu-west-1",
  replicas: 3,
  port: 8080,
  cpu: "500m",
  memoryMiB: 512,
  secretName: "s",
  selectNodePool: false,
  metricsPort: 9464,
  tokensSecretName: "i-api-tokens",
  exposure: "internal",
};
const LB = "service.beta.kubernetes.io/aws-load-balancer-";

describe("API manifests (pure)", () => {
  it("runs `taskfleet api` with its tokens file and metrics port behind an internal NLB by default", async () => {
    const o = apiObjects(CTX);
    const c = at(o.deployment, "spec.template.spec.containers.0") as Record<string, unknown>;
    expect(c.args).toEqual([
      "api",
      "--host",
      "0.0.0.0",
      "--port",
      "8080",
      "--metrics-port",
      "9464",
      "--tokens-file",
      "/etc/taskfleet/api/tokens",
    ]);
    expect(c.ports).toEqual([
      { name: "http", containerPort: 8080, protocol: "TCP" },
      { name: "metrics", containerPort: 9464, protocol: "TCP" },
    ]);
    expect(c.volumeMounts).toContainEqual({
      name: "api-tokens",
      mountPath: "/etc/taskfleet/api",
      readOnly: true,
    });
    expect(at(o.deployment, "spec.template.spec.volumes")).toContainEqual({
      name: "api-tokens",
      secret: { secretName: "i-api-tokens", defaultMode: 0o440 },
    });
    expect(at(o.service, "spec.type")).toBe("LoadBalancer");
    expect(o.service.metadata.annotations).toMatchObject({
      [`${LB}type`]: "nlb",
      [`${LB}scheme`]: "internal",
      [`${LB}internal`]: "true",
    });
    // The metrics port is never on the Service.
    expect(at(o.service, "spec.ports")).toEqual([
      { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
    ]);
    for (const obj of Object.values(o)) await validateK8s(obj);
  });

  it("exposes the API publicly only with TLS on 443 (ACM certificate), never the metrics port", async () => {
    const o = apiObjects({ ...CTX, exposure: "public", certificateArn: CERT });
    expect(o.service.metadata.annotations).toEqual({
      [`${LB}type`]: "nlb",
      [`${LB}cross-zone-load-balancing-enabled`]: "true",
      [`${LB}scheme`]: "internet-facing",
      [`${LB}ssl-cert`]: CERT,
      [`${LB}ssl-ports`]: "443",
      [`${LB}ssl-negotiation-policy`]: "ELBSecurityPolicy-TLS13-1-2-2021-06",
      [`${LB}backend-protocol`]: "tcp",
    });
    expect(at(o.service, "spec.ports")).toEqual([
      { name: "https", port: 443, targetPort: "http", protocol: "TCP" },
    ]);
    expect(() => apiObjects({ ...CTX, exposure: "public" })).toThrow(
      "ingress.exposure: public needs ingress.certificateArn (an ACM certificate for the TLS listener on 443)",
    );
  });

  it("passes the mandatory api-exposure policy as generated; the policy refuses a public Service without TLS only and an API without tokens", async () => {
    const svc = (
      o: ReturnType<typeof apiObjects>,
    ): { type: string; name: string; props: Record<string, unknown> } => ({
      type: "kubernetes:core/v1:Service",
      name: "i-svc",
      props: o.service as unknown as Record<string, unknown>,
    });
    const dep = (
      o: ReturnType<typeof apiObjects>,
    ): { type: string; name: string; props: Record<string, unknown> } => ({
      type: "kubernetes:apps/v1:Deployment",
      name: "i",
      props: o.deployment as unknown as Record<string, unknown>,
    });
    const internal = apiObjects(CTX);
    const pub = apiObjects({ ...CTX, exposure: "public", certificateArn: CERT });
    for (const o of [internal, pub]) {
      expect(await checkResource(apiExposure, svc(o))).toEqual([]);
      expect(await checkResource(apiExposure, dep(o))).toEqual([]);
    }
    // The same Service made internet-facing without TLS, or with port 80 beside 443.
    const plain = structuredClone(internal);
    plain.service.metadata.annotations = {
      [`${LB}type`]: "nlb",
      [`${LB}scheme`]: "internet-facing",
    };
    expect(await checkResource(apiExposure, svc(plain))).toEqual([
      `Service i-api exposes the task API to the internet without TLS only: no ACM certificate (annotation ${LB}ssl-cert); ${LB}ssl-ports is not "443"; it listens on 80, not 443 alone. Set ingress.exposure "internal", or give ingress.certificateArn (TLS on 443 only)`,
    ]);
    const both = structuredClone(pub);
    (both.service.spec as { ports: unknown[] }).ports.push({
      name: "http",
      port: 80,
      targetPort: "http",
    });
    expect(await checkResource(apiExposure, svc(both))).toEqual([
      `Service i-api exposes the task API to the internet without TLS only: it listens on 443, 80, not 443 alone. Set ingress.exposure "internal", or give ingress.certificateArn (TLS on 443 only)`,
    ]);
    const noAuth = structuredClone(internal);
    const c = at(noAuth.deployment, "spec.template.spec.containers.0") as { args: string[] };
    c.args = ["api", "--host", "127.0.0.1", "--dangerously-disable-auth"];
    expect(await checkResource(apiExposure, dep(noAuth))).toEqual([
      "Deployment i-api runs the task API with authentication off (--dangerously-disable-auth)",
      "Deployment i-api runs the task API without a tokens file (--tokens-file): it would admit no client",
    ]);
  });
});

describe("ingress config", () => {
  const parse = (ingress: Record<string, unknown>) => () =>
    parseRegionConfig({ region: "eu-west-1", ingress });
  it("is internal with one default client unless the stack says otherwise", () => {
    expect(parseRegionConfig({ region: "eu-west-1" }).ingress).toMatchObject({
      exposure: "internal",
      metricsPort: 9464,
      clients: [{ id: "default", tasks: ["*"] }],
    });
    expect(
      parse({ exposure: "public", certificateArn: CERT, clients: [{ id: "ci", tasks: ["a.*"] }] })()
        .ingress,
    ).toMatchObject({
      exposure: "public",
      certificateArn: CERT,
      clients: [{ id: "ci", tasks: ["a.*"] }],
    });
    expect(parse({ tokensSecret: "my-tokens" })().ingress.clients).toEqual([]);
  });

  it("refuses a public API without TLS, a certificate of another region, and bad clients, with exact messages", () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { exposure: "public" },
        'taskfleet:ingress.certificateArn: missing; exposure "public" serves the API only over TLS on 443 — give an ACM certificate ARN of eu-west-1, or use exposure "internal"',
      ],
      [
        { certificateArn: CERT.replace("eu-west-1", "us-east-1") },
        "taskfleet:ingress.certificateArn: the certificate is in us-east-1, this stack in eu-west-1; a load balancer uses a certificate of its own region",
      ],
      [
        { certificateArn: "arn:aws:iam::1:server-certificate/x" },
        'taskfleet:ingress.certificateArn: "arn:aws:iam::1:server-certificate/x" is not an ACM certificate ARN; use one like "arn:aws:acm:eu-west-1:123456789012:certificate/<uuid>"',
      ],
      [
        { clients: [] },
        'taskfleet:ingress.clients: empty; the API admits only known clients — list them (e.g. [{ id: orders, tasks: ["orders.*"] }]) or name an existing Secret with tokensSecret',
      ],
      [
        { clients: [{ id: "ci", tasks: [] }] },
        'taskfleet:ingress.clients[0].tasks: missing; list the task-name globs this client may send, e.g. ["reports.*"]',
      ],
      [
        {
          clients: [
            { id: "ci", tasks: ["a"] },
            { id: "ci", tasks: ["b"] },
          ],
        },
        'taskfleet:ingress.clients[1].id: "ci" is listed twice; client ids are unique',
      ],
      [
        { clients: [{ id: "ci", tasks: ["a b"] }] },
        'taskfleet:ingress.clients[0].tasks[0]: "a b" is not a task-name glob; use 1-200 letters, digits, "_", ".", ":", "-", "*" (any run) or "?" (one character)',
      ],
      [
        { clients: [{ id: "ci", tasks: ["a"] }], tokensSecret: "t" },
        "taskfleet:ingress.clients: set together with tokensSecret; use one — clients (a token generated per client) or tokensSecret (an existing Secret with the tokens file)",
      ],
    ];
    for (const [ingress, msg] of cases) expect(parse(ingress)).toThrow(msg);
  });
});

describe("API routing (pure)", () => {
  it("routes each queue class by exchange and routing-key prefix, priorities to their queues, keys to the shard queue", () => {
    expect(
      apiRoutingArgs({
        classes: [
          {
            name: "high_priority",
            queue: "high_priority",
            exchange: "high_priority",
            routingKey: "high.#",
          },
          { name: "default", queue: "default", exchange: "default", routingKey: "default.#" },
        ],
        priorities: [
          { priority: "high", queueClass: "high_priority" },
          { priority: "default", queueClass: "default" },
        ],
        shardedClass: "default",
      }),
    ).toEqual([
      "--queue",
      "high_priority=high_priority:high",
      "--queue",
      "default=default:default",
      "--priority",
      "high=high_priority",
      "--priority",
      "default=default",
      "--default-queue",
      "default",
      "--shard-queue",
      "default",
    ]);
  });
});

describe("Ingress", () => {
  let res: RecordedResource[];
  let tokens: Record<string, string>;
  beforeAll(async () => {
    const engine = await mocked();
    const { Ingress } = await import("../../components/ingress/ingress.js");
    const pub = new Ingress("i", {
      ...BASE,
      hostname: "api.tasks.example.com",
      hostedZoneId: "Z0123456789ABCDEFGHIJ",
      exposure: "public",
      certificateArn: CERT,
      clients: [
        { id: "ci", tasks: ["reports.*"] },
        { id: "ops", tasks: ["*"] },
      ],
    });
    new Ingress("n", {
      ...BASE,
      hostname: "api.internal.example.com",
      hostedZoneId: "Z0123456789ABCDEFGHIJ",
    });
    new Ingress("m", { ...BASE, clients: [], tokensSecretName: "imported-tokens" });
    tokens = await new Promise((r) => pub.apiTokens.apply((t) => r(t)));
    await engine.settle();
    res = engine.resources;
  });

  it("places the API Deployment, PDB, Service, tokens Secret and a token per client as children", () => {
    const children = res
      .filter((r) => r.parent === "i")
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    expect(children).toEqual([
      "aws:route53/healthCheck:HealthCheck i-api",
      "aws:route53/record:Record i-api",
      "kubernetes:apps/v1:Deployment i",
      "kubernetes:core/v1:Secret i-api-tokens",
      "kubernetes:core/v1:Secret i-connection",
      "kubernetes:core/v1:Service i-svc",
      "kubernetes:policy/v1:PodDisruptionBudget i-pdb",
      "random:index/randomPassword:RandomPassword i-token-ci",
      "random:index/randomPassword:RandomPassword i-token-ops",
    ]);
  });

  it("keeps only the tokens' SHA-256 in the Secret; the tokens are a secret output that authenticates", () => {
    expect(Object.keys(tokens).sort()).toEqual(["ci", "ops"]);
    const sd = find(res, "kubernetes:core/v1:Secret", "i-api-tokens").inputs.stringData as {
      secret: { tokens: string };
    };
    const text = sd.secret.tokens;
    expect(text).toBe(`ci ${sha256Hex(tokens.ci!)} reports.*\nops ${sha256Hex(tokens.ops!)} *\n`);
    expect(text).not.toContain(tokens.ci!);
    const reg = ClientRegistry.fromText(text);
    expect(reg.authenticate(tokens.ci!)?.id).toBe("ci");
    // A change of clients rolls the pods: the template carries the file's checksum.
    const dep = find(res, "kubernetes:apps/v1:Deployment", "i");
    expect(at(dep.inputs, "spec.template.metadata.annotations")).toEqual({
      "taskfleet.io/api-tokens-checksum": sha256Hex(text),
    });
  });

  it("uses an imported tokens Secret as it is, generating nothing", () => {
    const m = res.filter((r) => r.parent === "m").map((r) => r.type);
    expect(m).not.toContain("random:index/randomPassword:RandomPassword");
    const dep = find(res, "kubernetes:apps/v1:Deployment", "m");
    expect(at(dep.inputs, "spec.template.spec.volumes")).toContainEqual({
      name: "api-tokens",
      secret: { secretName: "imported-tokens", defaultMode: 0o440 },
    });
  });

  it("adds a latency record under the shared name with an HTTPS health check when public (S11)", () => {
    expect(find(res, "aws:route53/record:Record", "i-api").inputs).toMatchObject({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "api.tasks.example.com",
      type: "CNAME",
      records: ["i-svc.elb.mock"],
      setIdentifier: "eu-west-1",
      latencyRoutingPolicies: [{ region: "eu-west-1" }],
      healthCheckId: "i-api-id",
    });
    expect(find(res, "aws:route53/healthCheck:HealthCheck", "i-api").inputs).toMatchObject({
      type: "HTTPS",
      port: 443,
      fqdn: "i-svc.elb.mock",
      resourcePath: "/readyz",
    });
    // Route 53 health checkers cannot reach an internal load balancer: its record has none.
    expect(find(res, "aws:route53/record:Record", "n-api").inputs.healthCheckId).toBeUndefined();
    expect(ofType(res, "aws:route53/healthCheck:HealthCheck").map((r) => r.name)).toEqual([
      "i-api",
    ]);
  });

  it("renders schema-valid Kubernetes objects", async () => {
    for (const o of kubernetesObjects(res.filter((r) => r.parent === "i")))
      await validateK8s(o as { apiVersion: string; kind: string });
  });

  it("refuses a hostname without a hosted zone, and clients together with an imported Secret", async () => {
    const { Ingress } = await import("../../components/ingress/ingress.js");
    expect(() => new Ingress("bad", { ...BASE, hostname: "api.example.com" })).toThrow(
      "hostname and hostedZoneId: set both or neither",
    );
    expect(() => new Ingress("bad2", { ...BASE, tokensSecretName: "t" })).toThrow(
      "clients and tokensSecretName: set one",
    );
  });
});
