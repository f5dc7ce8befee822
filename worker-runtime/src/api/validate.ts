/**
 * Validation of task API requests: pure, no I/O. Every error names the field as the caller wrote
 * it, the value it got, and what is allowed; the server answers it as a 400 with that message.
 */

/** Where the API may send tasks, and the names callers use for it. */
export interface ApiRouting {
  /** Queues a caller may name with `queue`, each with the exchange and routing-key prefix it is published to. */
  readonly queues: Readonly<
    Record<string, { readonly exchange: string; readonly routingKeyPrefix: string }>
  >;
  /** `priority` names a caller may use, each mapped to one of `queues`. */
  readonly priorities: Readonly<Record<string, string>>;
  /** The queue a task goes to when neither `queue`, `priority` nor `key` is given. */
  readonly defaultQueue: string;
  /**
   * The queue (one of `queues`) whose class the broker shards over consistent-hash queues. A task
   * with `key` is published to that queue's exchange with routing key `<prefix>.<key>`, which the
   * broker's consistent-hash exchange hashes, so one key always lands on the same shard. Undefined
   * when this region's broker has no shards (then `key` is refused).
   */
  readonly shardQueue?: string;
}

/** A validated `POST /v1/tasks` body, resolved to where it is published. */
export interface TaskSubmission {
  readonly name: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** Queue name (for metrics and the answer). */
  readonly queue: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly countdownSeconds?: number;
  /** Absolute expiry time. */
  readonly expires?: Date;
  readonly key?: string;
}

export class ValidationError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "ValidationError";
  }
}

export const ALLOWED_FIELDS = [
  "name",
  "args",
  "kwargs",
  "queue",
  "priority",
  "countdown",
  "expires",
  "key",
] as const;

/** Longest countdown accepted: 30 days (longer ones belong in a scheduler, not a queue). */
export const MAX_COUNTDOWN_SECONDS = 30 * 24 * 3600;
/** Latest expiry accepted, from now: 30 days, as for countdown. */
export const MAX_EXPIRES_SECONDS = 30 * 24 * 3600;
/** Deepest nesting of arrays and objects accepted in `args` and `kwargs`. */
export const MAX_NESTING_DEPTH = 32;
/** AMQP's limit on a routing key (a short string), in bytes. */
export const MAX_ROUTING_KEY_BYTES = 255;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$/;
const TASK_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

/** A short rendering of a value for an error message (never throws, even for deep values). */
export function show(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v !== null && typeof v === "object" && nestingDepth(v, 8) > 8) {
    return Array.isArray(v) ? "[...]" : "{...}";
  }
  const s =
    typeof v === "string" && v.length > 200 ? JSON.stringify(v.slice(0, 200)) : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

/**
 * How deeply `v` nests arrays and objects (a scalar is 0, `[]` is 1), counted without recursion
 * and giving up past `limit`, so a hostile body cannot exhaust the stack.
 */
export function nestingDepth(v: unknown, limit = MAX_NESTING_DEPTH): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== "object") continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const c of Array.isArray(x) ? x : Object.values(x as object)) {
      if (c !== null && typeof c === "object") stack.push([c, depth]);
    }
  }
  return max;
}

function checkDepth(field: string, v: unknown): void {
  if (nestingDepth(v) > MAX_NESTING_DEPTH) {
    throw new ValidationError(
      field,
      `${field}: nested deeper than ${MAX_NESTING_DEPTH} levels of arrays and objects; flatten it (at most ${MAX_NESTING_DEPTH} levels)`,
    );
  }
}

/**
 * Checks a parsed JSON body and resolves its route. `allowedTasks`, when given, is the allow-list
 * of task names (an unknown name is then a 400); without it any well-formed name is accepted.
 */
export function validateSubmission(
  body: unknown,
  routing: ApiRouting,
  now: Date,
  allowedTasks?: ReadonlySet<string>,
): TaskSubmission {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ValidationError(
      "body",
      `body: ${typeName(body)} is not a task; send a JSON object with at least "name"`,
    );
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!(ALLOWED_FIELDS as readonly string[]).includes(k)) {
      throw new ValidationError(
        k,
        `${k}: unknown field; allowed fields are ${ALLOWED_FIELDS.join(", ")}`,
      );
    }
  }

  const name = b.name;
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new ValidationError(
      "name",
      `name: ${show(name)} is not a task name; use a string of 1-200 letters, digits, "_", ".", ":" or "-" starting with a letter or "_" (e.g. "reports.build")`,
    );
  }
  if (allowedTasks && !allowedTasks.has(name)) {
    const known = [...allowedTasks].sort();
    const list = known.length > 12 ? `${known.slice(0, 12).join(", ")}, ...` : known.join(", ");
    throw new ValidationError(
      "name",
      `name: "${name}" is not a task this API accepts; known tasks: ${list}`,
    );
  }

  const args = b.args ?? [];
  if (!Array.isArray(args)) {
    throw new ValidationError(
      "args",
      `args: ${show(b.args)} is ${typeName(b.args)}; use a JSON array of positional arguments`,
    );
  }
  const kwargs = b.kwargs ?? {};
  if (kwargs === null || typeof kwargs !== "object" || Array.isArray(kwargs)) {
    throw new ValidationError(
      "kwargs",
      `kwargs: ${show(b.kwargs)} is ${typeName(b.kwargs)}; use a JSON object of keyword arguments`,
    );
  }
  checkDepth("args", args);
  checkDepth("kwargs", kwargs);

  const set = (k: string): boolean => b[k] !== undefined;
  const chosen = ["queue", "priority", "key"].filter(set);
  if (chosen.length > 1) {
    throw new ValidationError(
      chosen[1]!,
      `${chosen.join(" and ")}: give only one of queue, priority or key`,
    );
  }

  let queue = routing.defaultQueue;
  let exchange: string;
  let routingKey: string;
  let key: string | undefined;
  if (set("key")) {
    const k = b.key;
    if (typeof k !== "string" || k.length === 0 || k.length > 255) {
      throw new ValidationError(
        "key",
        `key: ${show(k)} is not a shard key; use a non-empty string of at most 255 characters`,
      );
    }
    const shard = routing.shardQueue;
    const route = shard === undefined ? undefined : routing.queues[shard];
    if (shard === undefined || route === undefined) {
      throw new ValidationError(
        "key",
        `key: this region's broker has no consistent-hash shards; send the task without key`,
      );
    }
    key = k;
    queue = shard;
    exchange = route.exchange;
    routingKey = route.routingKeyPrefix === "" ? k : `${route.routingKeyPrefix}.${k}`;
    const bytes = Buffer.byteLength(routingKey);
    if (bytes > MAX_ROUTING_KEY_BYTES) {
      const room = MAX_ROUTING_KEY_BYTES - (bytes - Buffer.byteLength(k));
      throw new ValidationError(
        "key",
        `key: ${show(k)} makes a routing key of ${bytes} bytes; AMQP allows ${MAX_ROUTING_KEY_BYTES}, so use a key of at most ${room} bytes (UTF-8)`,
      );
    }
  } else {
    if (set("queue")) {
      const q = b.queue;
      if (typeof q !== "string" || routing.queues[q] === undefined) {
        throw new ValidationError(
          "queue",
          `queue: ${show(q)} is not a queue of this region; allowed: ${Object.keys(routing.queues).join(", ")}`,
        );
      }
      queue = q;
    } else if (set("priority")) {
      const p = b.priority;
      const target = typeof p === "string" ? routing.priorities[p] : undefined;
      if (target === undefined) {
        throw new ValidationError(
          "priority",
          `priority: ${show(p)} is not a priority of this region; allowed: ${Object.keys(routing.priorities).join(", ")}`,
        );
      }
      queue = target;
    }
    const route = routing.queues[queue];
    if (!route) {
      throw new ValidationError(
        "queue",
        `queue: ${show(queue)} is not a queue of this region; allowed: ${Object.keys(routing.queues).join(", ")}`,
      );
    }
    exchange = route.exchange;
    routingKey = route.routingKeyPrefix === "" ? queue : `${route.routingKeyPrefix}.${name}`;
    if (Buffer.byteLength(routingKey) > MAX_ROUTING_KEY_BYTES) {
      throw new ValidationError(
        "name",
        `name: "${name}" makes a routing key of ${Buffer.byteLength(routingKey)} bytes on queue ${queue}; AMQP allows ${MAX_ROUTING_KEY_BYTES}, so use a shorter name`,
      );
    }
  }

  let countdownSeconds: number | undefined;
  if (set("countdown")) {
    const c = b.countdown;
    if (typeof c !== "number" || !Number.isFinite(c) || c < 0 || c > MAX_COUNTDOWN_SECONDS) {
      throw new ValidationError(
        "countdown",
        `countdown: ${show(c)} is not a delay; use a number of seconds from 0 to ${MAX_COUNTDOWN_SECONDS}`,
      );
    }
    countdownSeconds = c;
  }

  let expires: Date | undefined;
  if (set("expires")) {
    const e = b.expires;
    const latest = now.getTime() + MAX_EXPIRES_SECONDS * 1000;
    if (typeof e === "number" && Number.isFinite(e) && e > 0) {
      if (e > MAX_EXPIRES_SECONDS) {
        throw new ValidationError(
          "expires",
          `expires: ${show(e)} is more than ${MAX_EXPIRES_SECONDS} seconds (30 days) away; use a number of seconds from 1 to ${MAX_EXPIRES_SECONDS}`,
        );
      }
      expires = new Date(now.getTime() + e * 1000);
    } else if (
      typeof e === "string" &&
      e.length <= 64 &&
      /^\d{4}-\d{2}-\d{2}T/.test(e) &&
      !Number.isNaN(Date.parse(e))
    ) {
      expires = new Date(Date.parse(e));
      if (expires.getTime() <= now.getTime()) {
        throw new ValidationError(
          "expires",
          `expires: ${show(e)} is in the past; use a later ISO-8601 time or a number of seconds > 0`,
        );
      }
      if (expires.getTime() > latest) {
        throw new ValidationError(
          "expires",
          `expires: ${show(e)} is more than 30 days away; use a time before ${new Date(latest).toISOString()}`,
        );
      }
    } else {
      throw new ValidationError(
        "expires",
        `expires: ${show(e)} is not an expiry; use a number of seconds > 0 or an ISO-8601 time such as "${new Date(now.getTime() + 3600_000).toISOString().slice(0, 19)}Z"`,
      );
    }
    if (
      countdownSeconds !== undefined &&
      expires.getTime() <= now.getTime() + countdownSeconds * 1000
    ) {
      throw new ValidationError(
        "expires",
        `expires: the task would expire before its countdown of ${countdownSeconds} s ends; give an expiry after the countdown, or none`,
      );
    }
  }

  return {
    name,
    args,
    kwargs: kwargs as Record<string, unknown>,
    queue,
    exchange,
    routingKey,
    ...(countdownSeconds !== undefined ? { countdownSeconds } : {}),
    ...(expires ? { expires } : {}),
    ...(key !== undefined ? { key } : {}),
  };
}

/** Checks the `{id}` of `GET /v1/tasks/{id}`. */
export function validateTaskId(id: string): string {
  if (!TASK_ID_RE.test(id)) {
    throw new ValidationError(
      "id",
      `id: ${show(id)} is not a task id; use the id a POST /v1/tasks answered (letters, digits, "-", "_", ".", ":")`,
    );
  }
  return id;
}
