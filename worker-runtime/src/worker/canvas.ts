/**
 * Celery canvas as the worker sees it after a task: `link` callbacks and the next chain step after
 * a success, `link_error` errbacks after a failure. Signatures are Celery's dicts
 * (`celery/canvas.py`): `{task, args, kwargs, options, subtask_type, immutable}`.
 */
import type { App } from "../app.js";
import type { TaskRequest } from "../protocol/message.js";

/** A Celery signature dict. */
export interface Signature {
  task: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: Record<string, unknown>;
  immutable?: boolean;
  subtask_type?: string | null;
}

export function isSignature(v: unknown): v is Signature {
  return typeof v === "object" && v !== null && typeof (v as { task?: unknown }).task === "string";
}

/** The request has something to send after a success. */
export function hasFollowUps(req: TaskRequest): boolean {
  return Boolean(req.chain?.length || req.callbacks?.length);
}

/**
 * After a success: each `link` callback and the next step of a chain (the chain is a reversed
 * stack: the last entry is next, the rest travels with it) are sent with the result prepended to
 * their args (unless immutable), each confirmed by the broker.
 */
export async function sendFollowUps(app: App, req: TaskRequest, value: unknown): Promise<void> {
  const sigs: { sig: Signature; chain: unknown[] | null }[] = [];
  for (const cb of req.callbacks ?? []) if (isSignature(cb)) sigs.push({ sig: cb, chain: null });
  if (req.chain && req.chain.length > 0) {
    const rest = [...req.chain];
    const next = rest.pop();
    if (isSignature(next)) sigs.push({ sig: next, chain: rest.length ? rest : null });
  }
  for (const { sig, chain } of sigs) {
    const o = sig.options ?? {};
    const args = sig.immutable ? [...(sig.args ?? [])] : [value, ...(sig.args ?? [])];
    await app.sendTask(sig.task, args, sig.kwargs ?? {}, {
      ...(typeof o.task_id === "string" ? { taskId: o.task_id } : {}),
      ...(typeof o.queue === "string" ? { queue: o.queue } : {}),
      ...(typeof o.routing_key === "string" ? { routingKey: o.routing_key } : {}),
      ...(typeof o.priority === "number" ? { priority: o.priority } : {}),
      parentId: req.id,
      rootId: req.rootId ?? req.id,
      chain,
      callbacks: Array.isArray(o.link) ? (o.link as unknown[]) : null,
    });
  }
}

/** After a failure for good: `link_error` errbacks get the failed task's id, as Celery sends them. */
export async function sendErrbacks(app: App, req: TaskRequest): Promise<void> {
  for (const eb of req.errbacks ?? []) {
    if (!isSignature(eb)) continue;
    const args = eb.immutable ? [...(eb.args ?? [])] : [req.id, ...(eb.args ?? [])];
    await app.sendTask(eb.task, args, eb.kwargs ?? {}, {
      ...(typeof eb.options?.queue === "string" ? { queue: eb.options.queue } : {}),
      parentId: req.id,
      rootId: req.rootId ?? req.id,
    });
  }
}
