/**
 * The consumer: one channel on the worker's connection with a consumer per queue and
 * per-consumer prefetch (`basic.qos global=false`, which quorum queues require). It declares (or
 * checks) the queues and the delay and poison topology, tracks every delivery for acks, decodes
 * messages into jobs and dead-letters what can never run. A lost channel or connection is set up
 * again; what the dead channel held is forgotten (the broker redelivers it).
 */
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { App } from "../app.js";
import type { AmqpConnection } from "../amqp/connection.js";
import {
  POISON_EXCHANGE,
  declareDelayTopology,
  declarePoisonTopology,
  ensureQueue,
  type DeclareMode,
  type DelayQueueType,
} from "../amqp/topology.js";
import { decodeTask, type TaskRequest } from "../protocol/message.js";
import type { Logger } from "../util/log.js";
import { AckTracker } from "./acks.js";
import type { WorkerHooks } from "./hooks.js";
import type { Job } from "./job.js";
import type { WorkerMetrics } from "./metrics.js";

export interface ConsumerDeps {
  readonly app: App;
  readonly conn: AmqpConnection;
  readonly log: Logger;
  readonly hooks: WorkerHooks;
  readonly metrics: WorkerMetrics;
  readonly queues: readonly string[];
  readonly prefetch: number;
  readonly declareMode: DeclareMode;
  readonly delayQueues: DelayQueueType;
  readonly deadLetter: "republish" | "reject";
  /** Called with the channel before consuming starts (events, remote control). */
  readonly attach: (ch: Channel) => Promise<void>;
  /** Called when the channel is gone. */
  readonly detach: () => void;
  /** A decoded job for a registered task. */
  readonly onJob: (job: Job) => void;
  /** Keep setting up after a loss (false once the worker stops). */
  readonly active: () => boolean;
}

export class Consumer {
  private channel: Channel | null = null;
  private tracker: AckTracker | null = null;
  private consumerTags: string[] = [];
  private setupError: string | null = null;
  /** Deliveries paused (the result backend is away): no consumers until resume(). */
  private paused = false;
  private first: { resolve: () => void; reject: (e: Error) => void } | null = null;

  constructor(private readonly d: ConsumerDeps) {
    d.conn.on("connected", (m) => void this.setup(m));
    d.conn.on("disconnected", () => this.teardown());
  }

  /** Connects and resolves once consuming every queue (or rejects with the first failure). */
  async start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => (this.first = { resolve, reject }));
    await this.d.conn.connect();
    await ready;
  }

  /** Why the consumer is not consuming every queue, or null when it is. */
  notReadyReason(): string | null {
    if (!this.d.conn.connected) return "not connected to the broker";
    if (this.setupError) return this.setupError;
    if (this.consumerTags.length !== this.d.queues.length) return "not consuming every queue";
    return null;
  }

  /** Stops taking deliveries until {@link resume}; what was delivered stays held. */
  async pause(): Promise<void> {
    this.paused = true;
    await this.cancel();
  }

  async resume(): Promise<void> {
    this.paused = false;
    const ch = this.channel;
    const tracker = this.tracker;
    if (ch && tracker && this.consumerTags.length === 0) {
      try {
        await this.consumeAll(ch, tracker);
      } catch (err) {
        this.d.log.warn("could not resume consuming; the channel is set up again", {
          err: err as Error,
        });
      }
    }
  }

  private async consumeAll(ch: Channel, tracker: AckTracker): Promise<void> {
    const tags: string[] = [];
    for (const q of this.d.queues) {
      const { consumerTag } = await ch.consume(q, (msg) => {
        if (msg) this.onMessage(msg, tracker, q);
        else this.onCancelled(q, ch);
      });
      tags.push(consumerTag);
    }
    this.consumerTags = tags;
  }

  /** Stops the broker's deliveries (what was delivered stays unacked until settled). */
  async cancel(): Promise<void> {
    const ch = this.channel;
    const tags = this.consumerTags;
    this.consumerTags = [];
    if (ch) for (const t of tags) await ch.cancel(t).catch(() => undefined);
  }

  /** Sends pending acks and closes the channel (unacked deliveries go back to their queues). */
  async close(): Promise<void> {
    this.tracker?.flush();
    const ch = this.channel;
    if (ch) await ch.close().catch(() => undefined);
  }

  private async setup(model: ChannelModel): Promise<void> {
    const d = this.d;
    try {
      for (const q of d.queues) await ensureQueue(model, d.app.queueSpec(q), d.declareMode);
      const ch = await model.createChannel();
      ch.on("error", (err: Error) => d.log.warn("channel error", { err }));
      ch.on("close", () => {
        if (this.channel !== ch) return;
        this.teardown();
        // the connection is alive but the channel died (e.g. queue deleted): set up again
        if (d.active())
          setTimeout(() => {
            if (d.conn.current === model && d.active()) void this.setup(model);
          }, 1000);
      });
      await declareDelayTopology(ch, d.delayQueues);
      await declarePoisonTopology(ch);
      await d.attach(ch);
      await ch.prefetch(d.prefetch, false);
      const tracker = new AckTracker(ch);
      this.channel = ch;
      this.tracker = tracker;
      this.consumerTags = [];
      if (!this.paused) await this.consumeAll(ch, tracker);
      this.setupError = null;
      d.log.info("consuming", { queues: d.queues, prefetch: d.prefetch });
      this.first?.resolve();
      this.first = null;
    } catch (err) {
      this.setupError = `setup failed: ${(err as Error).message}`;
      d.log.error("worker setup failed", { err: err as Error });
      if (this.first) {
        this.first.reject(err as Error);
        this.first = null;
      } else {
        setTimeout(() => {
          if (d.conn.current === model && d.active()) void this.setup(model);
        }, 2000);
      }
    }
  }

  private onCancelled(queue: string, ch: Channel): void {
    this.d.log.warn("broker cancelled the consumer (queue deleted?); re-subscribing", { queue });
    this.consumerTags = [];
    void ch.close().catch(() => undefined);
  }

  private teardown(): void {
    if (this.tracker) this.tracker.closed = true;
    this.channel = null;
    this.tracker = null;
    this.consumerTags = [];
    this.d.detach();
  }

  private onMessage(msg: ConsumeMessage, tracker: AckTracker, queue: string): void {
    const d = this.d;
    tracker.track(msg.fields.deliveryTag);
    d.metrics.received++;
    let req: TaskRequest;
    try {
      req = decodeTask(msg.content, msg.properties);
    } catch (err) {
      this.poison(msg, tracker, queue, (err as Error).message);
      return;
    }
    const task = d.app.tasks.get(req.task);
    if (!task) {
      this.poison(
        msg,
        tracker,
        queue,
        `unknown task "${req.task}" (registered: ${[...d.app.tasks.keys()].join(", ") || "none"})`,
      );
      return;
    }
    const arity = task.options.arity;
    if (
      arity !== undefined ? req.args.length !== arity : req.args.length < task.handler.length - 1
    ) {
      const want = arity !== undefined ? `${arity}` : `at least ${task.handler.length - 1}`;
      this.poison(
        msg,
        tracker,
        queue,
        `task "${req.task}" takes ${want} positional arguments, got ${req.args.length}`,
      );
      return;
    }
    const job: Job = {
      msg,
      tracker,
      queue,
      req,
      task,
      priority: msg.properties.priority ?? 0,
      receivedAt: Date.now(),
    };
    d.hooks.fire("task-received", job);
    d.onJob(job);
  }

  /** Dead-letters a message that can never run (never requeued: no requeue loops). */
  private poison(msg: ConsumeMessage, tracker: AckTracker, queue: string, reason: string): void {
    const d = this.d;
    d.metrics.rejected++;
    const tag = msg.fields.deliveryTag;
    const correlationId = (msg.properties.correlationId as string | undefined) ?? null;
    d.log.error("poison message dead-lettered", { queue, reason, correlationId });
    d.hooks.fire("task-rejected", { queue, reason, correlationId });
    if (d.deadLetter === "reject") {
      tracker.nack(tag, false);
      return;
    }
    d.app
      .producer()
      .publish({
        exchange: POISON_EXCHANGE,
        routingKey: queue,
        content: msg.content,
        options: {
          ...msg.properties,
          headers: {
            ...msg.properties.headers,
            "x-taskfleet-poison-reason": reason,
            "x-taskfleet-original-queue": queue,
          },
        },
      })
      .then(
        () => tracker.ack(tag),
        (err: unknown) => {
          d.log.error("could not republish poison message; rejecting it", { err: err as Error });
          tracker.nack(tag, false);
        },
      );
  }
}
