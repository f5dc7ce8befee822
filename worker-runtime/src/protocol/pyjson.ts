/**
 * The parts of Python's json dialect plain JSON lacks, both ways: the float literals `NaN`,
 * `Infinity` and `-Infinity` (Python's `json.dumps` writes them, `json.loads` reads them, so
 * Celery round-trips them), and integers of any size (Python ints are exact; JavaScript reads
 * integers past 2^53 as `bigint` here, never as a rounded number). Pure.
 */

/** A float JSON cannot write; {@link stringifyPython} writes its literal. */
export class NonFinite {
  readonly text: "NaN" | "Infinity" | "-Infinity";
  constructor(n: number) {
    this.text = Number.isNaN(n) ? "NaN" : n > 0 ? "Infinity" : "-Infinity";
  }
}

const json = JSON as unknown as {
  rawJSON(text: string): object;
  isRawJSON(v: unknown): boolean;
};

/** A bigint as an exact integer literal for `JSON.stringify`. */
export function rawInteger(n: bigint): object {
  return json.rawJSON(n.toString());
}

/** `JSON.stringify` of plain data that may hold {@link NonFinite} markers. */
export function stringifyPython(data: unknown): string {
  if (data instanceof NonFinite) return data.text;
  if (data === null || typeof data !== "object" || json.isRawJSON(data)) {
    return JSON.stringify(data) ?? "null";
  }
  if (Array.isArray(data)) return `[${data.map((v) => stringifyPython(v)).join(",")}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${stringifyPython(v)}`);
  }
  return `{${parts.join(",")}}`;
}

/** The text may hold an integer JavaScript numbers cannot hold exactly. */
export const LONG_DIGITS = /\d{16,}/;
/** The text may hold a Python float literal. */
export const PY_FLOAT_LITERAL = /NaN|Infinity/;

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/**
 * `JSON.parse` that also reads `NaN`, `Infinity`, `-Infinity` and returns integers outside
 * ±(2^53 − 1) as `bigint`. Slower than `JSON.parse`: used only when the text needs it.
 */
export function parsePython(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} in JSON at position ${i}`);
  };
  const ws = (): void => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      i++;
    }
  };
  const word = (w: string): boolean => {
    if (text.startsWith(w, i)) {
      i += w.length;
      return true;
    }
    return false;
  };
  const string = (): string => {
    const start = i++;
    while (i < text.length) {
      const c = text[i];
      if (c === "\\") i += 2;
      else if (c === '"') {
        i++;
        return JSON.parse(text.slice(start, i)) as string;
      } else i++;
    }
    return fail("Unterminated string");
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("Expected property name");
        const k = string();
        ws();
        if (text[i++] !== ":") fail("Expected ':'");
        out[k] = value();
        ws();
        const sep = text[i++];
        if (sep === "}") return out;
        if (sep !== ",") fail("Expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        const sep = text[i++];
        if (sep === "]") return out;
        if (sep !== ",") fail("Expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (word("true")) return true;
    if (word("false")) return false;
    if (word("null")) return null;
    if (word("NaN")) return NaN;
    if (word("Infinity")) return Infinity;
    if (word("-Infinity")) return -Infinity;
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail(`Unexpected token '${c ?? "end"}'`);
    i += m[0].length;
    const n = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) return BigInt(m[0]);
    return n;
  };
  const v = value();
  ws();
  if (i < text.length) fail("Unexpected non-whitespace character after JSON");
  return v;
}
