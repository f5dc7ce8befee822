/**
 * Queue, exchange and delay-queue names and declarations.
 *
 * Delays (countdown, eta, retry backoff) never hold a delivery unacked: the message is
 * republished to a delay level queue `taskfleet.delay.<n>` (a classic queue whose
 * `x-message-ttl` is 2^n seconds and whose dead-letter exchange is the default exchange), through
 * the headers exchange `taskfleet.delay`, with the routing key of the queue it should come back
 * to. When the TTL ends RabbitMQ dead-letters it with that routing key, so it lands in the work
 * queue again; a worker that sees the eta still ahead sends it down the next, shorter level. Levels
 * run from 1 s to 2^24 s (194 days); the last second or less is waited in memory.
 */
import type { Channel, ChannelModel, Options } from "amqplib";

export const DELAY_EXCHANGE = "taskfleet.delay";
// Not "x-…": the headers exchange ignores x- headers when matching.
export const DELAY_HEADER = "taskfleet-delay";
export const MAX_DELAY_LEVEL = 24;

/** Classic delay queues (one node each) or quorum ones (replicated, at-least-once dead-lettering). */
export type DelayQueueType = "classic" | "quorum";

/** The headers exchange delays go through; quorum delays use their own so the two never mix. */
export function delayExchange(type: DelayQueueType = "classic"): string {
  return type === "classic" ? DELAY_EXCHANGE : `${DELAY_EXCHANGE}.quorum`;
}

export function delayQueueName(level: number, type: DelayQueueType = "classic"): string {
  return `${delayExchange(type)}.${level}`;
}

/** The level (2^level seconds) for a remaining delay, or null when under one second. */
export function delayLevelFor(remainingMs: number): number | null {
  if (remainingMs < 1000) return null;
  return Math.min(MAX_DELAY_LEVEL, Math.floor(Math.log2(remainingMs / 1000)));
}

/** Queue arguments of one delay level. */
export function delayQueueArguments(
  level: number,
  type: DelayQueueType = "classic",
): Record<string, unknown> {
  const base = { "x-message-ttl": 2 ** level * 1000, "x-dead-letter-exchange": "" };
  return type === "classic"
    ? base
    : {
        ...base,
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
      };
}

/** Declares the delay exchange and all level queues (idempotent). */
export async function declareDelayTopology(
  ch: Channel,
  type: DelayQueueType = "classic",
): Promise<void> {
  const exchange = delayExchange(type);
  await ch.assertExchange(exchange, "headers", { durable: true });
  for (let level = 0; level <= MAX_DELAY_LEVEL; level++) {
    const q = delayQueueName(level, type);
    await ch.assertQueue(q, { durable: true, arguments: delayQueueArguments(level, type) });
    await ch.bindQueue(q, exchange, "", { "x-match": "all", [DELAY_HEADER]: String(level) });
  }
}

/** Dead-letter exchange and queue for poison messages. */
export const POISON_EXCHANGE = "taskfleet.poison";
export const POISON_QUEUE = "taskfleet.poison";

export async function declarePoisonTopology(ch: Channel): Promise<void> {
  await ch.assertExchange(POISON_EXCHANGE, "fanout", { durable: true });
  await ch.assertQueue(POISON_QUEUE, { durable: true });
  await ch.bindQueue(POISON_QUEUE, POISON_EXCHANGE, "");
}

/** A queue a worker consumes or a producer routes to (Celery's `Queue`). */
export interface QueueSpec {
  name: string;
  /** Exchange; "" is the default exchange (routing key = queue name). @default "" */
  exchange?: string;
  /** @default "direct" */
  exchangeType?: "direct" | "topic" | "fanout" | "headers";
  /** Binding key and the routing key producers use by default. @default the queue name */
  routingKey?: string;
  /** Queue arguments (x-max-priority, x-queue-type, ...) used when this runtime declares it. */
  queueArguments?: Record<string, unknown>;
}

/** Celery's default queue and the seed's priority queues (S26). */
export const DEFAULT_QUEUES: readonly QueueSpec[] = Object.freeze([
  { name: "celery" },
  { name: "high_priority", exchange: "high_priority", exchangeType: "topic", routingKey: "high.#" },
  { name: "default", exchange: "default", exchangeType: "topic", routingKey: "default.#" },
]);

export type DeclareMode = "declare" | "passive";

function isPrecondition(err: unknown): boolean {
  return (err as { code?: number }).code === 406;
}

/**
 * Makes sure a queue (and its exchange and binding) exists. In `declare` mode it declares them
 * like Celery does, and falls back to a passive check when the broker already has the queue with
 * other arguments (PRECONDITION_FAILED, e.g. a quorum queue the broker layer made). In `passive`
 * mode it only checks. Uses throwaway channels: a failed declaration closes its channel.
 * Returns "declared" or "existing".
 */
export async function ensureQueue(
  model: ChannelModel,
  spec: QueueSpec,
  mode: DeclareMode,
): Promise<"declared" | "existing"> {
  if (mode === "declare") {
    const ch = await model.createChannel();
    ch.on("error", () => undefined);
    try {
      const opts: Options.AssertQueue = { durable: true };
      if (spec.queueArguments) opts.arguments = spec.queueArguments;
      await ch.assertQueue(spec.name, opts);
      if (spec.exchange) {
        await ch.assertExchange(spec.exchange, spec.exchangeType ?? "direct", { durable: true });
        await ch.bindQueue(spec.name, spec.exchange, spec.routingKey ?? spec.name);
      }
      await ch.close().catch(() => undefined);
      return "declared";
    } catch (err) {
      if (!isPrecondition(err)) throw err;
    }
  }
  const ch = await model.createChannel();
  ch.on("error", () => undefined);
  try {
    await ch.checkQueue(spec.name);
  } catch (err) {
    throw new Error(
      `queue "${spec.name}" does not exist on the broker and this worker was told not to declare it (${(err as Error).message})`,
    );
  }
  await ch.close().catch(() => undefined);
  return "existing";
}
