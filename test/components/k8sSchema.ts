/**
 * Validates rendered Kubernetes objects against the Kubernetes OpenAPI schemas shipped in
 * `kubernetes-models` (and KEDA's CRD schemas in `@kubernetes-models/keda`), offline.
 * Throws naming the object and the schema violation.
 */
interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

const cache = new Map<string, ModelClass>();

async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  const key = `${apiVersion}/${kind}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const spec = apiVersion.startsWith("keda.sh/")
    ? `@kubernetes-models/keda/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  const mod = (await import(spec)) as Record<string, ModelClass>;
  const cls = mod[kind];
  if (!cls) throw new Error(`no schema model for ${key} (looked in ${spec})`);
  cache.set(key, cls);
  return cls;
}

export async function validateK8s(obj: {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
}): Promise<void> {
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    throw new Error(`object without apiVersion/kind: ${JSON.stringify(obj).slice(0, 200)}`);
  }
  const Model = await modelFor(apiVersion, kind);
  try {
    new Model(obj).validate();
  } catch (err) {
    throw new Error(`${kind} ${String(obj.metadata?.name)}: ${(err as Error).message}`);
  }
}
