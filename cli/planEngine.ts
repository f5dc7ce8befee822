/**
 * Runs a Pulumi program against Pulumi's mocks (no cloud, no Pulumi CLI) and records every
 * resource it registers: type, name, parent and inputs. Used by `taskfleet plan` and by the
 * component tests. Mocks are installed before the program is imported, as Pulumi requires.
 *
 * Outputs that only a cloud would compute (ids, endpoints, load-balancer hostnames, generated
 * passwords, peer stacks' outputs) get deterministic placeholder values so that everything
 * downstream of them is rendered too.
 */
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  /** Name of the parent resource (`undefined` for the stack's top level). */
  readonly parent?: string;
  /** Type of the parent resource. */
  readonly parentType?: string;
  readonly custom: boolean;
  /** The provider resource, as `<type>::<name>` (e.g. `pulumi:providers:aws::aws-us-east-1`). */
  readonly provider?: string;
  readonly inputs: Record<string, unknown>;
  /**
   * Every resource this one waits for, as `<type>::<name>`: explicit `dependsOn` (a component
   * expanded to its resources, as Pulumi does) and the resources its inputs come from.
   */
  readonly dependsOn: readonly string[];
  /** The `protect` option. */
  readonly protect: boolean;
  /** The `ignoreChanges` option (input property paths). */
  readonly ignoreChanges: readonly string[];
}

export interface MockEngineOptions {
  readonly project?: string;
  readonly stack?: string;
  /** Config values keyed `taskfleet:network` etc.; objects are JSON-encoded for Pulumi. */
  readonly config?: Record<string, unknown>;
  /** Outputs of other stacks read through StackReference, by fully qualified stack name. */
  readonly stackOutputs?: Record<string, Record<string, unknown>>;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList?(): string[];
  getProtect?(): boolean;
  getIgnorechangesList?(): string[];
}

/** What the engine is told about a resource besides its inputs (the resource options). */
interface RegisteredOptions {
  readonly parent?: string;
  readonly dependsOn: readonly string[];
  readonly protect: boolean;
  readonly ignoreChanges: readonly string[];
}

type Monitor = {
  registerResource(req: RegisterRequest, cb: (err: unknown, res: unknown) => void): Promise<void>;
  readResource(req: RegisterRequest, cb: (err: unknown, res: unknown) => void): Promise<void>;
};

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A value the program marked secret, as recorded (`taskfleet plan` writes "[secret]" instead). */
export interface SecretValue {
  readonly secret: unknown;
}

export function isSecretValue(v: unknown): v is SecretValue {
  return typeof v === "object" && v !== null && Object.keys(v).length === 1 && "secret" in v;
}

/** Replaces Pulumi's serialized secret wrappers by `{ secret: value }`, recursively. */
export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) {
    const o = value as Record<string, unknown>;
    if (o[SIG] === SECRET_SIG) return { secret: unwrapSecrets(o.value) };
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** The last URN segment is the resource's name; the type is the last `$`-part of the third. */
function splitUrn(urn: string): { name: string; type: string } {
  const parts = urn.split("::");
  const qualified = parts[2] ?? "";
  return { name: parts.slice(3).join("::"), type: qualified.split("$").pop() ?? "" };
}

/** `<type>::<name>` of a URN. */
export function urnKey(urn: string): string {
  const { name, type } = splitUrn(urn);
  return `${type}::${name}`;
}

/** `<type>::<name>` of a provider reference (`<urn>::<id>`). */
function providerKey(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const cut = ref.lastIndexOf("::");
  return urnKey(cut > 0 ? ref.slice(0, cut) : ref);
}

/** Deterministic outputs for what the cloud would compute. */
export function mockState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  stackOutputs: Record<string, Record<string, unknown>>,
): Record<string, unknown> {
  const base: Record<string, unknown> = { ...inputs, arn: `arn:aws:mock:::${type}/${name}` };
  switch (type) {
    case "pulumi:pulumi:StackReference": {
      const ref = String(inputs.name ?? name);
      return { name: ref, outputs: stackOutputs[ref] ?? {}, secretOutputNames: [] };
    }
    case "random:index/randomPassword:RandomPassword":
      return { ...base, result: `mock-${name}-password`, bcryptHash: `mock-${name}-bcrypt` };
    case "aws:eks/cluster:Cluster":
      return {
        ...base,
        name: inputs.name ?? `${name}-cluster`,
        endpoint: `https://${name}.eks.mock`,
        vpcConfig: {
          ...(inputs.vpcConfig as object),
          clusterSecurityGroupId: `sg-${name}-cluster`,
        },
        certificateAuthority: { data: Buffer.from(`${name}-ca`).toString("base64") },
      };
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return { ...base, latestVersion: 1 };
    case "aws:ec2/vpc:Vpc":
      return { ...base, cidrBlock: inputs.cidrBlock };
    case "kubernetes:core/v1:Service": {
      const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
      return {
        ...base,
        metadata: { ...metadata, name: metadata.name ?? name },
        status: { loadBalancer: { ingress: [{ hostname: `${name}.elb.mock` }] } },
      };
    }
    case "aws:elasticache/replicationGroup:ReplicationGroup":
      // As ElastiCache answers: a configuration endpoint only in cluster mode, else primary and
      // reader endpoints (a Global Datastore secondary inherits cluster mode disabled here).
      return inputs.clusterMode === "enabled"
        ? { ...base, configurationEndpointAddress: `clustercfg.${name}.cache.mock` }
        : {
            ...base,
            primaryEndpointAddress: `master.${name}.cache.mock`,
            readerEndpointAddress: `replica.${name}.cache.mock`,
          };
    case "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup":
      return {
        ...base,
        globalReplicationGroupId: `mock-${String(inputs.globalReplicationGroupIdSuffix ?? name)}`,
      };
    case "aws:opensearch/domain:Domain":
      return { ...base, endpoint: `vpc-${name}.es.mock` };
    case "aws:s3/bucketV2:BucketV2":
    case "aws:s3/bucket:Bucket":
      return { ...base, bucket: inputs.bucket ?? `${name}-bucket` };
    case "aws:iam/role:Role":
      return { ...base, name: inputs.name ?? `${name}-role` };
    default:
      if (type.startsWith("kubernetes:") && !type.startsWith("kubernetes:helm.sh/")) {
        // The provider auto-names objects without metadata.name (with a random suffix); use the resource name.
        const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
        return { ...base, metadata: { ...metadata, name: metadata.name ?? name } };
      }
      return base;
  }
}

export interface MockEngine {
  readonly resources: RecordedResource[];
  /** Waits until every registration the program started has completed. */
  settle(): Promise<void>;
}

/** Installs the mocks; import (or re-run) the program after this. */
export async function installMocks(options: MockEngineOptions = {}): Promise<MockEngine> {
  const resources: RecordedResource[] = [];
  const registered = new Map<string, RegisteredOptions>();
  const stackOutputs = options.stackOutputs ?? {};
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.config ?? {})) {
    config[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  pulumi.runtime.setAllConfig(config, []);
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const key = `${args.type}::${args.name}`;
        const opts = registered.get(key);
        const parent = opts?.parent ? splitUrn(opts.parent) : undefined;
        resources.push({
          type: args.type,
          name: args.name,
          parent: parent?.name,
          parentType: parent?.type,
          custom: args.custom ?? false,
          provider: providerKey(args.provider),
          inputs: unwrapSecrets(args.inputs) as Record<string, unknown>,
          dependsOn: opts?.dependsOn ?? [],
          protect: opts?.protect ?? false,
          ignoreChanges: opts?.ignoreChanges ?? [],
        });
        const state = mockState(
          args.type,
          args.name,
          args.inputs as Record<string, unknown>,
          stackOutputs,
        );
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        switch (args.token) {
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return {
              accountId: "123456789012",
              arn: "arn:aws:iam::123456789012:user/mock",
              userId: "mock",
            };
          case "aws:ec2/getVpc:getVpc":
            return { id: args.inputs.id, cidrBlock: "10.99.0.0/16" };
          case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com" };
          default:
            return {};
        }
      },
    },
    options.project ?? "taskfleet",
    options.stack ?? "test",
    true,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
  const register = monitor.registerResource.bind(monitor);
  const read = monitor.readResource.bind(monitor);
  const remember = (req: RegisterRequest) => {
    registered.set(`${req.getType()}::${req.getName()}`, {
      parent: req.getParent() || undefined,
      dependsOn: [...new Set((req.getDependenciesList?.() ?? []).map(urnKey))].sort(),
      protect: req.getProtect?.() ?? false,
      ignoreChanges: req.getIgnorechangesList?.() ?? [],
    });
  };
  monitor.registerResource = (req, cb) => {
    remember(req);
    return register(req, cb);
  };
  // StackReferences are read, not registered.
  monitor.readResource = (req, cb) => {
    remember(req);
    return read(req, cb);
  };
  return {
    resources,
    async settle() {
      await pulumi.runtime.disconnect();
    },
  };
}

/** Resolves an Output's value in tests and the plan (mocks resolve every value). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** Replaces every `{ secret }` by the string "[secret]" (for files a user reads). */
export function redactSecrets(value: unknown, inSecret = false): unknown {
  if (isSecretValue(value)) return redactSecrets(value.secret, true);
  if (inSecret && (typeof value !== "object" || value === null)) return "[secret]";
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, inSecret));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, redactSecrets(v, inSecret)]),
    );
  }
  return value;
}

/** Kubernetes objects among the recorded resources (not providers or Helm releases), secrets redacted. */
export function kubernetesObjects(
  resources: readonly RecordedResource[],
): Record<string, unknown>[] {
  return resources
    .filter(
      (r) =>
        r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/"),
    )
    .map((r) => {
      const obj = redactSecrets(r.inputs) as Record<string, unknown>;
      const { apiVersion, kind, ...rest } = obj;
      return { apiVersion, kind, ...rest };
    });
}
