/**
 * `taskfleet broker render --stack <name> --out <dir> [--stacks-dir <dir>]`: writes the files a
 * RabbitMQ node of that stack's region boots from — rabbitmq.conf, enabled_plugins,
 * definitions.json — so users can inspect them and anything can boot a node from them.
 *
 * Passwords never come from stack files. Each role's password is read from
 * `TASKFLEET_BROKER_PASSWORD_<ROLE>` (WORKERS, PRODUCERS, FEDERATION, MONITORING); a role without
 * one gets a random password, and the passwords used are written to `<out>/credentials.env`
 * (mode 0600). The federation password of an upstream region is read from
 * `TASKFLEET_BROKER_UPSTREAM_PASSWORD_<REGION>` (e.g. `..._US_EAST_1`); without it the URI gets
 * the placeholder password `CHANGE-ME`. Links without `uris` (peers managed by these stacks, whose
 * addresses are only known at deploy time) get `amqp://broker.<region>.federation.invalid:5672`.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import {
  BROKER_FILE_NAMES,
  BROKER_ROLES,
  BrokerConfigError,
  DEPLOYED_RABBITMQ_IMAGE,
  imageRabbitmqVersion,
  renderBrokerFiles,
  resolveBrokerSpec,
  type BrokerRole,
  type BrokerSpec,
  type RabbitmqVersion,
} from "../components/broker/index.js";
import { fillUpstreamUris, placeholderUri } from "../components/federation/upstreams.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const UPSTREAM_PLACEHOLDER_PASSWORD = "CHANGE-ME";

const USAGE =
  "usage: taskfleet broker render --stack <name> --out <dir> [--stacks-dir <dir>]\n" +
  "  passwords: TASKFLEET_BROKER_PASSWORD_<WORKERS|PRODUCERS|FEDERATION|MONITORING> (random when unset),\n" +
  "             TASKFLEET_BROKER_UPSTREAM_PASSWORD_<REGION> (placeholder CHANGE-ME when unset)\n";

/** A CLI error: printed as is, exit code 2. */
export class BrokerCliError extends Error {}

export interface RenderOptions {
  readonly stack: string;
  readonly out: string;
  readonly stacksDir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RenderResult {
  readonly spec: BrokerSpec;
  readonly files: readonly string[];
  /** Roles whose password was generated (not from the environment). */
  readonly generatedPasswords: readonly BrokerRole[];
  /** Upstream regions that got the placeholder password. */
  readonly placeholderUpstreams: readonly string[];
}

function envKey(s: string): string {
  return s.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** Reads `Pulumi.<stack>.yaml` and returns the resolved broker spec of its region. */
export function readBrokerSpec(stack: string, stacksDir: string): BrokerSpec {
  const file = join(stacksDir, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) {
    const known = existsSync(stacksDir)
      ? readdirSync(stacksDir)
          .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
          .filter((n): n is string => n !== undefined)
          .sort()
      : [];
    throw new BrokerCliError(
      `--stack: ${JSON.stringify(stack)} has no stack file ${file}; known stacks: ${known.length ? known.join(", ") : "(none)"}`,
    );
  }
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new BrokerCliError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  const config = (doc as { config?: unknown } | null)?.config;
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new BrokerCliError(`${file}: has no config: mapping`);
  }
  const c = config as Record<string, unknown>;
  const region = c["taskfleet:region"];
  if (region !== undefined && typeof region !== "string") {
    throw new BrokerCliError(
      `taskfleet:region: ${JSON.stringify(region)} is not allowed; use a region name such as "us-east-1"`,
    );
  }
  const raw = c["taskfleet:broker"] ?? {};
  const links = Array.isArray((raw as { federation?: unknown }).federation)
    ? ((raw as { federation: unknown[] }).federation as Array<{ region?: unknown }>)
    : [];
  const placeholders = Object.fromEntries(
    links.map((l) => [String(l?.region), [placeholderUri(String(l?.region))]]),
  );
  return resolveBrokerSpec(fillUpstreamUris(raw, placeholders), "taskfleet:broker", region);
}

/**
 * The RabbitMQ series `stack` deploys: the tag of its `taskfleet:brokerCluster.image`, else the
 * kit's default image. The rendered rabbitmq.conf is for that version.
 */
export function readBrokerVersion(stack: string, stacksDir: string): RabbitmqVersion {
  const doc = YAML.parse(readFileSync(join(stacksDir, `Pulumi.${stack}.yaml`), "utf8")) as {
    config?: Record<string, { image?: unknown } | undefined>;
  } | null;
  const image = doc?.config?.["taskfleet:brokerCluster"]?.image ?? DEPLOYED_RABBITMQ_IMAGE;
  const version = typeof image === "string" ? imageRabbitmqVersion(image) : undefined;
  if (version === undefined) {
    throw new BrokerCliError(
      `taskfleet:brokerCluster.image: ${JSON.stringify(image)} names no RabbitMQ version; pin one like ${JSON.stringify(DEPLOYED_RABBITMQ_IMAGE)}`,
    );
  }
  return version;
}

/** Renders the broker files of `stack` into `out`. */
export function renderStack(opts: RenderOptions): RenderResult {
  const env = opts.env ?? process.env;
  const stacksDir = opts.stacksDir ?? join(REPO, "stacks");
  const spec = readBrokerSpec(opts.stack, stacksDir);
  const version = readBrokerVersion(opts.stack, stacksDir);
  const generatedPasswords: BrokerRole[] = [];
  const passwords = Object.fromEntries(
    BROKER_ROLES.map((role) => {
      const fromEnv = env[`TASKFLEET_BROKER_PASSWORD_${envKey(role)}`];
      if (fromEnv) return [role, fromEnv];
      generatedPasswords.push(role);
      return [role, randomBytes(18).toString("base64url")];
    }),
  ) as Record<BrokerRole, string>;
  const placeholderUpstreams: string[] = [];
  const upstreamPasswords = Object.fromEntries(
    spec.federation.map((l) => {
      const fromEnv = env[`TASKFLEET_BROKER_UPSTREAM_PASSWORD_${envKey(l.region)}`];
      if (fromEnv) return [l.region, fromEnv];
      placeholderUpstreams.push(l.region);
      return [l.region, UPSTREAM_PLACEHOLDER_PASSWORD];
    }),
  );
  const files = renderBrokerFiles(spec, { passwords, upstreamPasswords }, { version });
  mkdirSync(opts.out, { recursive: true });
  for (const name of BROKER_FILE_NAMES) writeFileSync(join(opts.out, name), files[name]);
  const credFile = join(opts.out, "credentials.env");
  writeFileSync(
    credFile,
    BROKER_ROLES.map(
      (r) => `# user ${spec.users[r]}\nTASKFLEET_BROKER_PASSWORD_${envKey(r)}=${passwords[r]}\n`,
    ).join(""),
    { mode: 0o600 },
  );
  chmodSync(credFile, 0o600);
  chmodSync(join(opts.out, "definitions.json"), 0o600);
  return {
    spec,
    files: [...BROKER_FILE_NAMES, "credentials.env"],
    generatedPasswords,
    placeholderUpstreams,
  };
}

function parseArgs(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--(stack|out|stacks-dir)(?:=(.*))?$/.exec(a);
    if (!m) throw new BrokerCliError(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === "") {
      throw new BrokerCliError(`--${m[1]}: missing value\n${USAGE}`);
    }
    out[m[1]!] = value;
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub !== "render")
      throw new BrokerCliError(`unknown broker command ${JSON.stringify(sub)}\n${USAGE}`);
    const args = parseArgs(rest);
    if (!args.stack) throw new BrokerCliError(`--stack: missing\n${USAGE}`);
    if (!args.out) throw new BrokerCliError(`--out: missing\n${USAGE}`);
    const r = renderStack({
      stack: args.stack,
      out: args.out,
      ...(args["stacks-dir"] ? { stacksDir: args["stacks-dir"] } : {}),
    });
    process.stdout.write(
      `wrote ${r.files.map((f) => join(args.out!, f)).join(", ")} for region ${r.spec.region}\n`,
    );
    if (r.generatedPasswords.length) {
      process.stderr.write(
        `note: random passwords for ${r.generatedPasswords.join(", ")} (set TASKFLEET_BROKER_PASSWORD_<ROLE> to choose); see credentials.env\n`,
      );
    }
    if (r.placeholderUpstreams.length) {
      process.stderr.write(
        `note: federation upstream password placeholder ${UPSTREAM_PLACEHOLDER_PASSWORD} for ${r.placeholderUpstreams.join(", ")} (set TASKFLEET_BROKER_UPSTREAM_PASSWORD_<REGION>)\n`,
      );
    }
    return 0;
  } catch (err) {
    if (
      err instanceof BrokerCliError ||
      err instanceof BrokerConfigError ||
      (err as Error).name === "ConfigError"
    ) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}
