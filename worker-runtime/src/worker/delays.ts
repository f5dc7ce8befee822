/**
 * Sending a message down the delay level queues (`amqp/topology.ts`): countdown/eta waits and
 * retries never hold a delivery; the message is republished (confirmed) with the level header and
 * comes back to its queue when the level's TTL ends.
 */
import type { Options } from "amqplib";
import type { App } from "../app.js";
import {
  DELAY_HEADER,
  delayExchange,
  delayLevelFor,
  type DelayQueueType,
} from "../amqp/topology.js";

/**
 * Publishes `content` so that it comes back to `queue` after about `remainingMs` (the largest
 * level not past it), or straight to the queue when less than a second remains.
 */
export async function publishDelayed(
  app: App,
  type: DelayQueueType,
  queue: string,
  content: Buffer,
  options: Options.Publish,
  remainingMs: number,
): Promise<void> {
  const level = delayLevelFor(remainingMs);
  await app.producer().publish({
    exchange: level === null ? "" : delayExchange(type),
    routingKey: queue,
    content,
    options:
      level === null
        ? options
        : { ...options, headers: { ...options.headers, [DELAY_HEADER]: String(level) } },
  });
}
