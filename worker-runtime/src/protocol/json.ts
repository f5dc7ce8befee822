/**
 * kombu's JSON encoding of Python types, both ways.
 *
 * kombu 5.3+ wraps non-JSON types in an envelope `{"__type__": marker, "__value__": value}`:
 * datetime (isoformat), date (isoformat), time (isoformat), decimal (str), uuid (`{"hex": ...}`),
 * bytes (utf-8 text, or `base64` when not valid utf-8). kombu 5.2 and older write datetimes as
 * ISO strings (UTC as `Z`), Decimal and UUID as strings and cannot encode bytes; `mode: "plain"`
 * reproduces that for old peers. Decoding always accepts the envelope.
 *
 * JavaScript side: datetime ⇄ `Date` (UTC), date ⇄ {@link PyDate}, time ⇄ {@link PyTime},
 * Decimal ⇄ {@link Decimal}, UUID ⇄ {@link Uuid}, bytes ⇄ `Buffer`/`Uint8Array`. Python's json
 * dialect (`pyjson.ts`) carries NaN, ±Infinity and exact integers (`bigint`).
 *
 * What cannot be encoded throws {@link EncodeError} with the message Python's json gives for the
 * same case (a circular structure, a Set, a function, ...): Celery stores such a result as FAILURE
 * `kombu.exceptions.EncodeError`, and so does the worker.
 */
import {
  LONG_DIGITS,
  NonFinite,
  PY_FLOAT_LITERAL,
  parsePython,
  rawInteger,
  stringifyPython,
} from "./pyjson.js";

/** A value that cannot be encoded as JSON (mirrors `kombu.exceptions.EncodeError`). */
export class EncodeError extends Error {
  override name = "EncodeError";
  readonly excModule = "kombu.exceptions";
}

function notSerializable(type: string): EncodeError {
  return new EncodeError(`TypeError('Object of type ${type} is not JSON serializable')`);
}

/** A calendar date without time (Python `datetime.date`). */
export class PyDate {
  constructor(
    readonly year: number,
    readonly month: number,
    readonly day: number,
  ) {}
  static parse(iso: string): PyDate {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
    if (!m) throw new Error(`kombu date: "${iso}" is not an ISO date (YYYY-MM-DD)`);
    return new PyDate(Number(m[1]), Number(m[2]), Number(m[3]));
  }
  toISOString(): string {
    return `${String(this.year).padStart(4, "0")}-${pad2(this.month)}-${pad2(this.day)}`;
  }
  toJSON(): string {
    return this.toISOString();
  }
}

/** A time of day (Python `datetime.time`), kept as its isoformat text. */
export class PyTime {
  constructor(readonly iso: string) {
    if (!/^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([+-]\d{2}:\d{2})?$/.test(iso)) {
      throw new Error(`kombu time: "${iso}" is not an ISO time (HH:MM[:SS[.ffffff]][+HH:MM])`);
    }
  }
  toString(): string {
    return this.iso;
  }
  toJSON(): string {
    return this.iso;
  }
}

/** An exact decimal number (Python `decimal.Decimal`), kept as text. */
export class Decimal {
  constructor(readonly value: string) {
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(Infinity|NaN|sNaN)$/.test(value)) {
      throw new Error(`kombu decimal: "${value}" is not a decimal number`);
    }
  }
  toString(): string {
    return this.value;
  }
  toJSON(): string {
    return this.value;
  }
}

/** A UUID (Python `uuid.UUID`). */
export class Uuid {
  /** 32 lower-case hex digits, no dashes. */
  readonly hex: string;
  constructor(text: string) {
    const hex = text
      .replace(/^urn:uuid:/i, "")
      .replace(/[{}-]/g, "")
      .toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`kombu uuid: "${text}" is not a UUID`);
    this.hex = hex;
  }
  toString(): string {
    const h = this.hex;
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  toJSON(): string {
    return this.toString();
  }
}

export type JsonMode = "tagged" | "plain";

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** Python's `datetime.isoformat()` of an aware UTC datetime: microseconds only when non-zero. */
export function pythonIsoformat(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error("kombu datetime: invalid Date");
  const base =
    `${String(d.getUTCFullYear()).padStart(4, "0")}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  const ms = d.getUTCMilliseconds();
  return `${base}${ms ? `.${String(ms).padStart(3, "0")}000` : ""}+00:00`;
}

/**
 * Parses an ISO-8601 datetime as Python writes it. A value without an offset is taken as UTC
 * (Celery's protocol v2 is always UTC). Digits past milliseconds are truncated.
 */
export function parseIsoDatetime(text: string): Date {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
      text.trim(),
    );
  if (!m) throw new Error(`"${text}" is not an ISO-8601 datetime`);
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, "0")) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), ms);
  if (tz && tz !== "Z") {
    const sign = tz.startsWith("-") ? -1 : 1;
    const digits = tz.slice(1).replace(":", "");
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return new Date(t);
}

function tag(type: string, value: unknown): { __type__: string; __value__: unknown } {
  return { __type__: type, __value__: value };
}

interface EncodeState {
  readonly mode: JsonMode;
  /** Objects being encoded (a cycle is an error, as in Python's json). */
  readonly ancestors: Set<object>;
  nonFinite: boolean;
}

/**
 * Turns a value into plain JSON data with kombu's envelopes (or kombu 5.2 strings in plain mode).
 * The data may hold raw integer literals (bigint) and {@link NonFinite} markers; {@link dumps}
 * writes them.
 */
export function toKombu(value: unknown, mode: JsonMode = "tagged"): unknown {
  return encode(value, { mode, ancestors: new Set(), nonFinite: false });
}

function encode(value: unknown, st: EncodeState): unknown {
  if (value === null || value === undefined) return value;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (Number.isFinite(value)) return value;
      st.nonFinite = true;
      return new NonFinite(value);
    case "bigint":
      return rawInteger(value);
    case "function":
    case "symbol":
      throw notSerializable(typeof value);
    default:
      break;
  }
  const obj = value as object;
  const mode = st.mode;
  if (obj instanceof Date) {
    const iso = pythonIsoformat(obj);
    return mode === "tagged" ? tag("datetime", iso) : iso.replace(/\+00:00$/, "Z");
  }
  if (obj instanceof PyDate) {
    return mode === "tagged" ? tag("date", obj.toISOString()) : `${obj.toISOString()}T00:00:00`;
  }
  if (obj instanceof PyTime) return mode === "tagged" ? tag("time", obj.iso) : obj.iso;
  if (obj instanceof Decimal) return mode === "tagged" ? tag("decimal", obj.value) : obj.value;
  if (obj instanceof Uuid) {
    return mode === "tagged" ? tag("uuid", { hex: obj.hex }) : obj.toString();
  }
  if (obj instanceof Uint8Array) {
    const buf = Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength);
    if (mode === "plain")
      throw new EncodeError("kombu json: bytes cannot be encoded in plain (kombu 5.2) mode");
    const text = new TextDecoder("utf-8", { fatal: true });
    try {
      return tag("bytes", text.decode(buf));
    } catch {
      return tag("base64", buf.toString("base64"));
    }
  }
  if (
    obj instanceof Set ||
    obj instanceof WeakMap ||
    obj instanceof WeakSet ||
    obj instanceof Promise ||
    obj instanceof RegExp ||
    obj instanceof Error
  ) {
    throw notSerializable(obj.constructor.name);
  }
  if (st.ancestors.has(obj)) throw new EncodeError("ValueError('Circular reference detected')");
  st.ancestors.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((v: unknown) => encode(v, st));
    if (obj instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of obj) out[String(k)] = encode(v, st);
      return out;
    }
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return encode((toJSON as () => unknown).call(obj), st);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v !== undefined) out[k] = encode(v, st);
    }
    return out;
  } finally {
    st.ancestors.delete(obj);
  }
}

/** Decodes kombu envelopes in already-parsed JSON data. Unknown markers are an error, as in kombu. */
export function fromKombu(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(fromKombu);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 2 && "__type__" in obj && "__value__" in obj) {
    const type = obj.__type__;
    const v = obj.__value__;
    switch (type) {
      case "datetime":
        return parseIsoDatetime(String(v));
      case "date":
        return PyDate.parse(String(v));
      case "time":
        return new PyTime(String(v));
      case "decimal":
        return new Decimal(String(v));
      case "uuid":
        return new Uuid(String((v as { hex?: unknown }).hex ?? v));
      case "bytes":
        return Buffer.from(String(v), "utf-8");
      case "base64":
        return Buffer.from(String(v), "base64");
      default:
        throw new Error(`kombu json: unsupported __type__ "${String(type)}"`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = fromKombu(obj[k]);
  return out;
}

/** `JSON.stringify` with kombu envelopes, NaN/±Infinity literals and exact bigints. */
export function dumps(value: unknown, mode: JsonMode = "tagged"): string {
  const st: EncodeState = { mode, ancestors: new Set(), nonFinite: false };
  const data = encode(value, st);
  return st.nonFinite ? stringifyPython(data) : (JSON.stringify(data) ?? "null");
}

/**
 * `JSON.parse` that decodes kombu envelopes and reads Python's json: NaN/±Infinity literals, and
 * integers past 2^53 as `bigint`.
 */
export function loads(text: string | Buffer): unknown {
  const s = typeof text === "string" ? text : text.toString("utf-8");
  let data: unknown;
  if (LONG_DIGITS.test(s)) data = parsePython(s);
  else {
    try {
      data = JSON.parse(s);
    } catch (err) {
      if (!PY_FLOAT_LITERAL.test(s)) throw err;
      data = parsePython(s);
    }
  }
  return s.includes("__type__") ? fromKombu(data) : data;
}
