/**
 * Celery result meta (`celery-task-meta-<id>`) and exception encoding, as written by
 * `celery/backends/base.py`: `{status, result, traceback, children, date_done, task_id}`, a
 * failure's result being `{exc_type, exc_message, exc_module}`.
 */
import { dumps, loads, pythonIsoformat, type JsonMode } from "./json.js";

export type TaskState =
  | "PENDING"
  | "RECEIVED"
  | "STARTED"
  | "SUCCESS"
  | "FAILURE"
  | "RETRY"
  | "REVOKED"
  | "REJECTED"
  | "IGNORED";

/** States after which a task will not change again. */
export const READY_STATES: ReadonlySet<TaskState> = new Set(["SUCCESS", "FAILURE", "REVOKED"]);

export interface ExceptionInfo {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string | null;
}

export interface ResultMeta {
  status: TaskState;
  result: unknown;
  traceback: string | null;
  children: unknown[];
  date_done: string | null;
  task_id: string;
  group_id?: string;
  parent_id?: string;
}

/**
 * A task's error as stored in or read from the result backend, Python's included: `name` is
 * the Python type name (`exc_type`), `message` the message, `excModule` its module.
 */
export class TaskError extends Error {
  readonly excType: string;
  readonly excModule: string | null;
  readonly excMessage: unknown[];
  readonly remoteTraceback: string | null;
  readonly taskId: string | null;
  constructor(info: ExceptionInfo, traceback: string | null = null, taskId: string | null = null) {
    const msgs = Array.isArray(info.exc_message) ? info.exc_message : [info.exc_message];
    super(msgs.length === 1 ? String(msgs[0]) : msgs.length === 0 ? "" : JSON.stringify(msgs));
    this.name = info.exc_type;
    this.excType = info.exc_type;
    this.excModule = info.exc_module;
    this.excMessage = msgs;
    this.remoteTraceback = traceback;
    this.taskId = taskId;
  }
}

/** Raised by the soft time limit (mirrors `celery.exceptions.SoftTimeLimitExceeded`). */
export class SoftTimeLimitExceeded extends Error {
  override name = "SoftTimeLimitExceeded";
  readonly excModule = "celery.exceptions";
}

/** Recorded when the hard limit ends a task (mirrors `celery.exceptions.TimeLimitExceeded`). */
export class TimeLimitExceeded extends Error {
  override name = "TimeLimitExceeded";
  readonly excModule = "celery.exceptions";
}

/** Recorded when `ctx.retry()` has no retries left and no `exc` (mirrors Celery's). */
export class MaxRetriesExceededError extends Error {
  override name = "MaxRetriesExceededError";
  readonly excModule = "celery.exceptions";
}

/** Recorded for an early-acked task whose worker stopped before it finished (Celery's). */
export class WorkerLostError extends Error {
  override name = "WorkerLostError";
  readonly excModule = "celery.exceptions";
}

/** Recorded for expired or revoked tasks (mirrors `celery.exceptions.TaskRevokedError`). */
export class TaskRevokedError extends Error {
  override name = "TaskRevokedError";
  readonly excModule = "celery.exceptions";
}

/** Python built-in exception names; a JS error with one of these names maps to `builtins`. */
const PY_BUILTINS = new Set([
  "Exception",
  "ValueError",
  "TypeError",
  "KeyError",
  "IndexError",
  "RuntimeError",
  "ZeroDivisionError",
  "AttributeError",
  "NotImplementedError",
  "LookupError",
  "ArithmeticError",
  "AssertionError",
  "OSError",
  "IOError",
  "TimeoutError",
  "ConnectionError",
  "PermissionError",
  "FileNotFoundError",
  "OverflowError",
  "MemoryError",
  "RecursionError",
  "UnicodeError",
]);

/** Encodes an error the way Celery's `prepare_exception` does for JSON. */
export function exceptionInfo(err: unknown): ExceptionInfo {
  if (err instanceof TaskError) {
    return { exc_type: err.excType, exc_message: err.excMessage, exc_module: err.excModule };
  }
  if (err instanceof Error) {
    const declared = (err as { excModule?: unknown }).excModule;
    const name = err.name || "Error";
    const module =
      typeof declared === "string" ? declared : PY_BUILTINS.has(name) ? "builtins" : "taskfleet";
    return { exc_type: name, exc_message: [err.message], exc_module: module };
  }
  return { exc_type: "Exception", exc_message: [String(err)], exc_module: "builtins" };
}

/** A Python-looking traceback string for a JS error (Python clients print it as is). */
export function formatTraceback(err: unknown): string {
  if (err instanceof TaskError && err.remoteTraceback) return err.remoteTraceback;
  const info = exceptionInfo(err);
  const stack = err instanceof Error && err.stack ? err.stack.split("\n").slice(1).join("\n") : "";
  const msg = info.exc_message.map(String).join(", ");
  const qual =
    info.exc_module && info.exc_module !== "builtins"
      ? `${info.exc_module}.${info.exc_type}`
      : info.exc_type;
  return `Traceback (most recent call last):\n${stack}\n${qual}: ${msg}\n`;
}

export interface BuildMetaInput {
  taskId: string;
  status: TaskState;
  result?: unknown;
  error?: unknown;
  dateDone?: Date;
  groupId?: string | null;
  parentId?: string | null;
}

/** Builds the stored meta dict. Failure-like states encode `error` as Celery's exception dict. */
export function buildMeta(input: BuildMetaInput): ResultMeta {
  const failed = input.error !== undefined;
  const meta: ResultMeta = {
    status: input.status,
    result: failed ? exceptionInfo(input.error) : (input.result ?? null),
    traceback: failed ? formatTraceback(input.error) : null,
    children: [],
    date_done:
      input.status === "SUCCESS" || input.status === "FAILURE" || input.status === "REVOKED"
        ? pythonIsoformat(input.dateDone ?? new Date())
        : null,
    task_id: input.taskId,
  };
  if (input.groupId) meta.group_id = input.groupId;
  if (input.parentId) meta.parent_id = input.parentId;
  return meta;
}

export function encodeMeta(meta: ResultMeta, mode: JsonMode = "tagged"): string {
  return dumps(meta, mode);
}

export function decodeMeta(text: string | Buffer): ResultMeta {
  const m = loads(text) as ResultMeta;
  if (typeof m !== "object" || m === null || typeof m.status !== "string") {
    throw new Error("result meta is not a Celery result dict (no status)");
  }
  m.traceback ??= null;
  m.children ??= [];
  m.date_done ??= null;
  return m;
}

/** The error a failed meta stands for. */
export function metaError(meta: ResultMeta): TaskError {
  const r = meta.result as Partial<ExceptionInfo> | null;
  if (r && typeof r === "object" && typeof r.exc_type === "string") {
    return new TaskError(
      {
        exc_type: r.exc_type,
        exc_message: Array.isArray(r.exc_message) ? r.exc_message : [r.exc_message],
        exc_module: r.exc_module ?? null,
      },
      meta.traceback,
      meta.task_id,
    );
  }
  return new TaskError(
    { exc_type: "Exception", exc_message: [String(meta.result)], exc_module: "builtins" },
    meta.traceback,
    meta.task_id,
  );
}
