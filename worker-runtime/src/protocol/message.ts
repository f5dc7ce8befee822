/**
 * Celery task messages: protocol v2 (what `celery/app/amqp.py` `as_task_v2` sends) and v1 (a body
 * dict, accepted on input). Pure: data in, data out.
 */
import { hostname } from "node:os";
import { inflateSync } from "node:zlib";
import { dumps, loads, parseIsoDatetime, pythonIsoformat, type JsonMode } from "./json.js";

/** A task request as the worker sees it, whichever protocol version it came in. */
export interface TaskRequest {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  retries: number;
  eta: Date | null;
  expires: Date | null;
  /** [hard, soft] in seconds, as Celery's code sends them (not the docs' order). */
  timelimit: [number | null, number | null];
  rootId: string | null;
  parentId: string | null;
  groupId: string | null;
  groupIndex: number | null;
  origin: string | null;
  ignoreResult: boolean;
  shadow: string | null;
  callbacks: unknown[] | null;
  errbacks: unknown[] | null;
  chain: unknown[] | null;
  chord: unknown;
  /** AMQP `reply_to` (Celery's RPC backend queue), or null. */
  replyTo: string | null;
  /** All message headers as received (v2) or the v1 body's extra fields. */
  headers: Record<string, unknown>;
  /** 2 or 1. */
  protocol: 1 | 2;
}

export interface EncodeTaskInput {
  id: string;
  task: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  retries?: number;
  eta?: Date | null;
  expires?: Date | null;
  /** Seconds. */
  timeLimit?: number | null;
  /** Seconds. */
  softTimeLimit?: number | null;
  rootId?: string | null;
  parentId?: string | null;
  groupId?: string | null;
  groupIndex?: number | null;
  origin?: string;
  ignoreResult?: boolean;
  shadow?: string | null;
  replyTo?: string;
  priority?: number;
  /** Extra headers merged over the Celery ones. */
  headers?: Record<string, unknown>;
  callbacks?: unknown[] | null;
  errbacks?: unknown[] | null;
  chain?: unknown[] | null;
  chord?: unknown;
  jsonMode?: JsonMode;
}

/** An encoded message, ready for `basic.publish`. */
export interface EncodedTask {
  body: Buffer;
  headers: Record<string, unknown>;
  properties: {
    correlationId: string;
    replyTo: string;
    contentType: "application/json";
    contentEncoding: "utf-8";
    deliveryMode: 2;
    priority?: number;
  };
}

/** A message that can never be processed (bad body, missing fields). Rejected, not requeued. */
export class PoisonMessageError extends Error {
  override name = "PoisonMessageError";
}

let defaultOrigin: string | undefined;
function origin(): string {
  defaultOrigin ??= `gen${process.pid}@${hostname()}`;
  return defaultOrigin;
}

/** Python's `saferepr` is approximated by a JSON rendering, cut like Celery's (1024 chars). */
export function argsRepr(value: unknown, max = 1024): string {
  let s: string;
  try {
    s =
      JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v)) ?? "None";
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** Encodes a protocol v2 task message exactly as Celery 5's `as_task_v2` lays it out. */
export function encodeTaskV2(input: EncodeTaskInput): EncodedTask {
  const args = input.args ?? [];
  const kwargs = input.kwargs ?? {};
  if (!Array.isArray(args)) throw new TypeError("task args must be an array");
  if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) {
    throw new TypeError("task kwargs must be an object");
  }
  const headers: Record<string, unknown> = {
    lang: "py",
    task: input.task,
    id: input.id,
    shadow: input.shadow ?? null,
    eta: input.eta ? pythonIsoformat(input.eta) : null,
    expires: input.expires ? pythonIsoformat(input.expires) : null,
    group: input.groupId ?? null,
    group_index: input.groupIndex ?? null,
    retries: input.retries ?? 0,
    timelimit: [input.timeLimit ?? null, input.softTimeLimit ?? null],
    root_id: input.rootId || input.id,
    parent_id: input.parentId ?? null,
    argsrepr: argsRepr(args),
    kwargsrepr: argsRepr(kwargs),
    origin: input.origin ?? origin(),
    ignore_result: input.ignoreResult ?? false,
    ...input.headers,
  };
  const body = Buffer.from(
    dumps(
      [
        args,
        kwargs,
        {
          callbacks: input.callbacks ?? null,
          errbacks: input.errbacks ?? null,
          chain: input.chain ?? null,
          chord: input.chord ?? null,
        },
      ],
      input.jsonMode ?? "tagged",
    ),
  );
  const properties: EncodedTask["properties"] = {
    correlationId: input.id,
    replyTo: input.replyTo ?? "",
    contentType: "application/json",
    contentEncoding: "utf-8",
    deliveryMode: 2,
  };
  if (input.priority !== undefined) properties.priority = input.priority;
  return { body, headers, properties };
}

function str(v: unknown): string | null {
  if (v === null || v === undefined || v === "") return null;
  if (Buffer.isBuffer(v)) return v.toString("utf-8");
  return typeof v === "string" ? v : String(v);
}

function num(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

function time(field: string, v: unknown): Date | null {
  if (v === null || v === undefined || v === "") return null;
  if (v instanceof Date) return v;
  try {
    return parseIsoDatetime(String(Buffer.isBuffer(v) ? v.toString() : v));
  } catch {
    throw new PoisonMessageError(`${field}: "${String(v)}" is not an ISO-8601 datetime`);
  }
}

function limits(v: unknown): [number | null, number | null] {
  if (!Array.isArray(v)) return [null, null];
  return [num(v[0]), num(v[1])];
}

function list(v: unknown): unknown[] | null {
  return Array.isArray(v) ? v : null;
}

/** Message properties the decoder needs (a subset of amqplib's). */
export interface IncomingProperties {
  headers?: Record<string, unknown> | undefined;
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  correlationId?: string | undefined;
  replyTo?: string | undefined;
}

/**
 * Decodes a task message. v2 is recognised by the `task` header; otherwise the body must be a
 * v1 dict. Anything that is not a task message throws {@link PoisonMessageError}.
 */
export function decodeTask(body: Buffer, props: IncomingProperties): TaskRequest {
  const ct = props.contentType;
  if (ct && ct !== "application/json") {
    throw new PoisonMessageError(
      `content type "${ct}" is not supported; taskfleet accepts application/json only`,
    );
  }
  const compression = props.headers?.compression;
  if (compression !== undefined && compression !== null) {
    // kombu's zlib compressor: zlib.compress, header "application/x-gzip"
    if (compression !== "application/x-gzip" && compression !== "zlib" && compression !== "gzip") {
      throw new PoisonMessageError(
        `compression "${String(compression)}" is not supported; taskfleet reads zlib (application/x-gzip) only`,
      );
    }
    try {
      body = inflateSync(body);
    } catch (err) {
      throw new PoisonMessageError(`compressed body does not inflate: ${(err as Error).message}`);
    }
  }
  let data: unknown;
  try {
    data = loads(body);
  } catch (err) {
    throw new PoisonMessageError(`body is not valid JSON: ${(err as Error).message}`);
  }
  const headers = props.headers ?? {};
  if (headers.task !== undefined && headers.task !== null) {
    if (!Array.isArray(data) || data.length < 2) {
      throw new PoisonMessageError("protocol v2 body must be a JSON array [args, kwargs, embed]");
    }
    const [args, kwargs, embed] = data as [unknown, unknown, unknown];
    if (!Array.isArray(args))
      throw new PoisonMessageError("protocol v2 body: args is not an array");
    if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) {
      throw new PoisonMessageError("protocol v2 body: kwargs is not an object");
    }
    const e = (embed && typeof embed === "object" ? embed : {}) as Record<string, unknown>;
    const id = str(headers.id) ?? str(props.correlationId);
    if (!id) throw new PoisonMessageError("protocol v2 message has no id header");
    return {
      id,
      task: String(str(headers.task)),
      args,
      kwargs: kwargs as Record<string, unknown>,
      retries: num(headers.retries) ?? 0,
      eta: time("eta", headers.eta),
      expires: time("expires", headers.expires),
      timelimit: limits(headers.timelimit),
      rootId: str(headers.root_id),
      parentId: str(headers.parent_id),
      groupId: str(headers.group),
      groupIndex: num(headers.group_index),
      origin: str(headers.origin),
      ignoreResult: headers.ignore_result === true,
      shadow: str(headers.shadow),
      callbacks: list(e.callbacks),
      errbacks: list(e.errbacks),
      chain: list(e.chain),
      chord: e.chord ?? null,
      replyTo: str(props.replyTo),
      headers,
      protocol: 2,
    };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new PoisonMessageError(
      "message has no task header (v2) and its body is not a v1 task dict",
    );
  }
  const b = data as Record<string, unknown>;
  const task = str(b.task);
  const id = str(b.id);
  if (!task || !id) throw new PoisonMessageError("protocol v1 body needs both task and id");
  const args = b.args ?? [];
  const kwargs = b.kwargs ?? {};
  if (!Array.isArray(args)) throw new PoisonMessageError("protocol v1 body: args is not an array");
  if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) {
    throw new PoisonMessageError("protocol v1 body: kwargs is not an object");
  }
  // v1 eta/expires are local time when utc is false; this runtime treats them as UTC like v2.
  return {
    id,
    task,
    args,
    kwargs: kwargs as Record<string, unknown>,
    retries: num(b.retries) ?? 0,
    eta: time("eta", b.eta),
    expires: time("expires", b.expires),
    timelimit: limits(b.timelimit),
    rootId: null,
    parentId: null,
    groupId: str(b.taskset) ?? str(b.group),
    groupIndex: num(b.group_index),
    origin: null,
    ignoreResult: false,
    shadow: null,
    callbacks: list(b.callbacks),
    errbacks: list(b.errbacks),
    chain: null,
    chord: b.chord ?? null,
    replyTo: str(props.replyTo),
    headers: { ...headers },
    protocol: 1,
  };
}

/** Headers protocol v2 sets itself (`as_task_v2`); a retry writes them anew. */
const CELERY_HEADERS = new Set([
  "lang",
  "task",
  "id",
  "shadow",
  "eta",
  "expires",
  "group",
  "group_index",
  "retries",
  "timelimit",
  "root_id",
  "parent_id",
  "argsrepr",
  "kwargsrepr",
  "origin",
  "ignore_result",
]);

/** Headers the transport added on the way (dead-lettering, delays, compression, poison). */
function isTransportHeader(name: string): boolean {
  return (
    name === "compression" ||
    name === "taskfleet-delay" ||
    name === "taskfleet-rate-slot" ||
    name === "x-death" ||
    name === "x-delivery-count" ||
    name.startsWith("x-first-death-") ||
    name.startsWith("x-last-death-") ||
    name.startsWith("x-taskfleet-")
  );
}

/** The caller's own headers of a request (custom headers, stamps), without Celery's or the transport's. */
export function customHeaders(req: TaskRequest): Record<string, unknown> {
  if (req.protocol !== 2) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (!CELERY_HEADERS.has(k) && !isTransportHeader(k)) out[k] = v;
  }
  return out;
}

/**
 * Re-encodes a request for a retry: same id, `retries + 1`, new eta; everything else kept,
 * custom headers and `reply_to` included.
 */
export function encodeRetry(
  req: TaskRequest,
  eta: Date,
  jsonMode: JsonMode = "tagged",
): EncodedTask {
  return encodeTaskV2({
    id: req.id,
    task: req.task,
    args: req.args,
    kwargs: req.kwargs,
    retries: req.retries + 1,
    eta,
    expires: req.expires,
    timeLimit: req.timelimit[0],
    softTimeLimit: req.timelimit[1],
    rootId: req.rootId,
    parentId: req.parentId,
    groupId: req.groupId,
    groupIndex: req.groupIndex,
    ignoreResult: req.ignoreResult,
    shadow: req.shadow,
    callbacks: req.callbacks,
    errbacks: req.errbacks,
    chain: req.chain,
    chord: req.chord,
    headers: customHeaders(req),
    ...(req.replyTo ? { replyTo: req.replyTo } : {}),
    jsonMode,
    ...(req.origin ? { origin: req.origin } : {}),
  });
}
