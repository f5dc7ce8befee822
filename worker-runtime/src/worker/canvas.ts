/**
 * Celery canvas as the worker sees it after a task: `link` callbacks and the next chain step after
 * a success, `link_error` errbacks after a failure. Signatures are Celery's dicts
 * (`celery/canvas.py`): `{task, args, kwargs, options, subtask_type, immutable}`.
 */
import { createHash } from "node:crypto";
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
 * The id of a follow-up whose signature carries none (Celery's frozen chains carry theirs): derived
 * from the parent's id and its place, so a re-sent follow-up has the same id and one result.
 */
export function followUpId(
  parentId: string,
  kind: "link" | "chain" | "errback",
  i: number,
): string {
  const h = createHash("sha1").update(`${parentId}/${kind}/${i}`).digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * After a success: each `link` callback and the next step of a chain (the chain is a reversed
 * stack: the last entry is next, the rest travels with it) are sent with the result prepended to
 * their args (unless immutable), each confirmed by the broker. Sending them again (after a lost
 * ack) sends the same ids.
 */
export async function sendFollowUps(app: App, req: TaskRequest, value: unknown): Promise<void> {
  const sigs: { sig: Signature; chain: unknown[] | null; id: string }[] = [];
  (req.callbacks ?? []).forEach((cb, i) => {
    if (isSignature(cb)) sigs.push({ sig: cb, chain: null, id: followUpId(req.id, "link", i) });
  });
  if (req.chain && req.chain.length > 0) {
    const rest = [...req.chain];
    const next = rest.pop();
    if (isSignature(next))
      sigs.push({
        sig: next,
        chain: rest.length ? rest : null,
        id: followUpId(req.id, "chain", 0),
      });
  }
  for (const { sig, chain, id } of sigs) {
    const o = sig.options ?? {};
    const args = sig.immutable ? [...(sig.args ?? [])] : [value, ...(sig.args ?? [])];
    await app.sendTask(sig.task, args, sig.kwargs ?? {}, {
      taskId: typeof o.task_id === "string" ? o.task_id : id,
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
  for (const [i, eb] of (req.errbacks ?? []).entries()) {
    if (!isSignature(eb)) continue;
    const args = eb.immutable ? [...(eb.args ?? [])] : [req.id, ...(eb.args ?? [])];
    await app.sendTask(eb.task, args, eb.kwargs ?? {}, {
      taskId:
        typeof eb.options?.task_id === "string"
          ? eb.options.task_id
          : followUpId(req.id, "errback", i),
      ...(typeof eb.options?.queue === "string" ? { queue: eb.options.queue } : {}),
      parentId: req.id,
      rootId: req.rootId ?? req.id,
    });
  }
}
