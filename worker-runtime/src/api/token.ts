/**
 * `taskfleet api token new <client-id> --tasks <globs>`: makes a client's token, prints it once
 * with the tokens-file line to add (the server keeps only the hash). `taskfleet api openapi`: prints
 * the API's OpenAPI 3.1 document (what docs/openapi.json holds).
 */
import { clientIdProblem, globProblem, newToken } from "./auth.js";
import { TaskNotStoredError, type TaskGateway } from "./gateway.js";
import type { ApiRouting } from "./validate.js";

export const TOKEN_USAGE = `taskfleet api token new <client-id> --tasks <glob>[,<glob>...]

Makes a new random token for a client and prints it once, with the line to add to the API's tokens
file (--tokens-file). The file holds only the token's SHA-256; after editing it, send the API
SIGHUP (or restart it). Globs: "*" matches any run of characters, "?" one (e.g. 'reports.*').
`;

export function tokenArgs(argv: readonly string[]): { clientId: string; globs: string[] } {
  const [verb, clientId, ...rest] = argv;
  if (verb !== "new" || clientId === undefined || clientId.startsWith("-")) {
    throw new Error(`usage: ${TOKEN_USAGE.split("\n")[0]}`);
  }
  const idErr = clientIdProblem(clientId);
  if (idErr) throw new Error(`<client-id>: ${idErr}`);
  let tasks: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const r = rest[i]!;
    if (r === "--tasks") tasks = rest[++i];
    else if (r.startsWith("--tasks=")) tasks = r.slice("--tasks=".length);
    else throw new Error(`${r}: unknown flag; use --tasks <glob>[,<glob>...]`);
  }
  if (tasks === undefined || tasks === "") {
    throw new Error(
      "--tasks: missing; name the tasks this client may send, e.g. --tasks 'reports.*,billing.invoice'",
    );
  }
  const globs = tasks.split(",").filter((g) => g !== "");
  for (const g of globs) {
    const p = globProblem(g);
    if (p) throw new Error(`--tasks: ${p}`);
  }
  return { clientId, globs };
}

export function runTokenCommand(argv: readonly string[]): number {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
    process.stdout.write(TOKEN_USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  let a: { clientId: string; globs: string[] };
  try {
    a = tokenArgs(argv);
  } catch (err) {
    process.stderr.write(`taskfleet api token: ${(err as Error).message}\n`);
    return 2;
  }
  const { token, line } = newToken(a.clientId, a.globs);
  process.stdout.write(
    `Token for client "${a.clientId}" (shown only now; keep it in a secret store):\n` +
      `  ${token}\n` +
      `Line for the tokens file (add it, then send the API SIGHUP or restart it):\n` +
      `  ${line}\n`,
  );
  return 0;
}

/** A gateway for building the document only: it reaches nothing. */
const OFFLINE: TaskGateway = {
  publish: () => Promise.reject(new TaskNotStoredError("unavailable", "offline")),
  publishMany: (items) =>
    Promise.resolve(items.map(() => new TaskNotStoredError("unavailable", "offline"))),
  status: () => Promise.reject(new Error("offline")),
  check: () => Promise.resolve({ broker: false, backend: false }),
  redis: () => Promise.reject(new Error("offline")),
  close: () => Promise.resolve(),
};

const EXAMPLE_ROUTING: ApiRouting = {
  queues: { default: { exchange: "default", routingKeyPrefix: "default" } },
  priorities: {},
  defaultQueue: "default",
};

/** The OpenAPI document, as served at /v1/openapi.json (it does not depend on flags). */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const { TaskApi } = await import("./server.js");
  const api = new TaskApi({
    gateway: OFFLINE,
    routing: EXAMPLE_ROUTING,
    region: "example",
    clients: null,
  });
  try {
    return await api.openapi();
  } finally {
    await api.close();
  }
}

export async function printOpenApi(): Promise<number> {
  process.stdout.write(`${JSON.stringify(await openApiDocument(), null, 2)}\n`);
  return 0;
}
