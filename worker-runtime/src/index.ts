/** Public API of `@taskfleet/worker`. */
export {
  App,
  AsyncResult,
  BatchPublishError,
  RetryRequest,
  Task,
  createApp,
  parseRateLimit,
  type AppOptions,
  type SendOptions,
  type TaskContext,
  type TaskHandler,
  type TaskOptions,
} from "./app.js";
export { Worker, type WorkerOptions } from "./worker/worker.js";
export {
  WorkerHooks,
  type WorkerHookEvents,
  type WorkerHookName,
  type RevokedInfo,
  type RejectedInfo,
} from "./worker/hooks.js";
export { ControlCommands, type ControlHandler } from "./worker/control.js";
export { Admission, type AdmissionCheck, type AdmissionResult } from "./worker/admission.js";
export type { Job, Outcome } from "./worker/job.js";
export type { ExecutionPool, RunHandle } from "./worker/pool.js";
export { Autoscaler, parseAutoscale, type AutoscaleLimits } from "./worker/autoscale.js";
export { AmqpConnection, splitBrokerUrls, type AmqpConnectionOptions } from "./amqp/connection.js";
export {
  Producer,
  PublishRejectedError,
  type PublishItem,
  type ProducerOptions,
} from "./amqp/producer.js";
export {
  DEFAULT_QUEUES,
  DELAY_EXCHANGE,
  delayExchange,
  delayQueueName,
  type DelayQueueType,
  POISON_EXCHANGE,
  POISON_QUEUE,
  ensureQueue,
  type DeclareMode,
  type QueueSpec,
} from "./amqp/topology.js";
export {
  ResultBackend,
  ResultTimeoutError,
  ClusterModeError,
  type ResultBackendOptions,
} from "./backend/resultBackend.js";
export { parseRedisUrl, type RedisTarget } from "./backend/redisUrl.js";
export * from "./protocol/index.js";
export { createLogger, parseLogLevel, type Logger, type LogLevel } from "./util/log.js";
