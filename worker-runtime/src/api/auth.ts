/**
 * Who may call the task API: named clients, each with a bearer token and the task names it may
 * send. The server holds only SHA-256 hashes of the tokens, read from a tokens file with one client
 * a line:
 *
 *     <client-id> <sha256-hex-of-token> <task-name-glob>[,<glob>...]
 *
 * Blank lines and lines starting with `#` are ignored. A presented token is hashed and compared
 * with every client's hash in constant time (no early exit), so the answer's timing says nothing
 * about how close a guess was. Pure except `readTokensFile` and `newToken`.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

export interface ApiClient {
  readonly id: string;
  /** Task-name globs (`*` matches any run of characters, `?` one character). */
  readonly globs: readonly string[];
}

interface Entry {
  readonly client: ApiClient;
  readonly hash: Buffer;
}

export class TokensFileError extends Error {
  override name = "TokensFileError";
}

const CLIENT_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const HASH_RE = /^[0-9a-f]{64}$/;
const GLOB_RE = /^[A-Za-z0-9_.:*?-]{1,200}$/;
/** Longest token accepted in a header; ours are 46 characters. */
export const MAX_TOKEN_LENGTH = 512;

/** Checks one glob of a client's task list; returns an error text or null. */
export function globProblem(glob: string): string | null {
  return GLOB_RE.test(glob)
    ? null
    : `"${glob.slice(0, 60)}" is not a task-name glob; use 1-200 letters, digits, "_", ".", ":", "-", "*" (any run) or "?" (one character)`;
}

/** Checks a client id; returns an error text or null. */
export function clientIdProblem(id: string): string | null {
  return CLIENT_RE.test(id)
    ? null
    : `"${id.slice(0, 60)}" is not a client id; use 1-64 letters, digits, "_", ".", ":" or "-" starting with a letter or digit`;
}

/**
 * Whether `name` matches `glob` (`*` any run, `?` one character). Greedy with one backtrack
 * point, so it runs in O(|name|·|glob|) at worst, never exponentially.
 */
export function globMatch(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    const c = glob[g];
    if (c === "?" || (c !== undefined && c !== "*" && c === name[n])) {
      g++;
      n++;
    } else if (c === "*") {
      star = g++;
      mark = n;
    } else if (star >= 0) {
      g = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (glob[g] === "*") g++;
  return g === glob.length;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Parses a tokens file's text; errors name the line, the value and what is allowed. */
export function parseTokens(text: string, source = "tokens file"): ApiClient[] {
  return parseEntries(text, source).map((e) => e.client);
}

function parseEntries(text: string, source: string): Entry[] {
  const entries: Entry[] = [];
  const seen = new Set<string>();
  const hashes = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${source} line ${i + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) {
      throw new TokensFileError(
        `${where}: ${parts.length} fields; write <client-id> <sha256-hex-of-token> <glob>[,<glob>...]`,
      );
    }
    const [id, hash, globList] = parts as [string, string, string];
    const idErr = clientIdProblem(id);
    if (idErr) throw new TokensFileError(`${where}: ${idErr}`);
    if (seen.has(id)) throw new TokensFileError(`${where}: client "${id}" is listed twice`);
    const h = hash.toLowerCase();
    if (!HASH_RE.test(h)) {
      throw new TokensFileError(
        `${where}: the hash of "${id}" is not 64 hex digits; write the token's SHA-256 (taskfleet api token new prints the line)`,
      );
    }
    if (hashes.has(h)) {
      throw new TokensFileError(`${where}: client "${id}" has the same token as another client`);
    }
    const globs = globList.split(",").filter((g) => g !== "");
    if (globs.length === 0) throw new TokensFileError(`${where}: client "${id}" has no task globs`);
    for (const g of globs) {
      const p = globProblem(g);
      if (p) throw new TokensFileError(`${where}: ${p}`);
    }
    seen.add(id);
    hashes.add(h);
    entries.push({ client: { id, globs }, hash: Buffer.from(h, "hex") });
  });
  return entries;
}

/** The clients the API knows right now; `reload` swaps the whole set at once. */
export class ClientRegistry {
  private entries: readonly Entry[];

  private constructor(entries: Entry[]) {
    this.entries = entries;
  }

  static fromText(text: string, source?: string): ClientRegistry {
    return new ClientRegistry(parseEntries(text, source ?? "tokens file"));
  }

  static fromFile(path: string): ClientRegistry {
    return ClientRegistry.fromText(readTokensFile(path), path);
  }

  get size(): number {
    return this.entries.length;
  }

  get clients(): readonly ApiClient[] {
    return this.entries.map((e) => e.client);
  }

  /** Replaces the clients with the file's; on any error the old set stays in force. */
  reload(path: string): number {
    const next = parseEntries(readTokensFile(path), path);
    this.entries = next;
    return next.length;
  }

  /** The client whose token this is, or null. Compares against every client, in constant time each. */
  authenticate(token: string): ApiClient | null {
    const digest = createHash("sha256").update(token, "utf8").digest();
    let found: ApiClient | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(digest, e.hash) && found === null) found = e.client;
    }
    return found;
  }
}

/** Whether `client` may send tasks named `name`. */
export function mayRun(client: ApiClient, name: string): boolean {
  return client.globs.some((g) => globMatch(g, name));
}

export function readTokensFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new TokensFileError(
      `${path}: cannot read the tokens file (${code ?? (err as Error).message})`,
    );
  }
}

/** A new random token (256 bits) and the tokens-file line for it. */
export function newToken(
  clientId: string,
  globs: readonly string[],
): { token: string; line: string } {
  const token = `tf_${randomBytes(32).toString("base64url")}`;
  return { token, line: `${clientId} ${sha256Hex(token)} ${globs.join(",")}` };
}

/** The token of an `Authorization: Bearer <token>` header, or null when absent or malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header);
  if (!m || m[1]!.length > MAX_TOKEN_LENGTH) return null;
  return m[1]!;
}
