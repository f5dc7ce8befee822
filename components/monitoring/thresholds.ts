/**
 * Alert thresholds (seed S37): one typed object with defaults and validation. Pure.
 */

/** Thresholds for the generated alert rules. Every field is optional in user input. */
export interface AlertThresholds {
  /**
   * Ready messages in one queue above which `QueueBacklogHigh` fires (half of the seed's
   * `x-max-length: 100000`, S20, so there is time to act before publishes are refused).
   * @default 50000
   */
  queueBacklogMessages: number;
  /**
   * Growth of ready messages in one queue over `queueBacklogGrowthWindowMinutes` above which
   * `QueueBacklogGrowing` fires.
   * @default 5000
   */
  queueBacklogGrowthMessages: number;
  /** Window over which backlog growth is measured. @default 10 */
  queueBacklogGrowthWindowMinutes: number;
  /** How long a queue may hold ready messages with no consumer before `QueueWithoutConsumers`. @default 10 */
  queueWithoutConsumersMinutes: number;
  /**
   * Resident memory as a fraction of the node's memory limit (the high watermark, S17) above
   * which `RabbitMQMemoryNearWatermark` warns before the alarm blocks publishers.
   * @default 0.9
   */
  rabbitmqMemoryWarningRatio: number;
  /** Open file descriptors as a fraction of the limit (S16) above which a warning fires. @default 0.8 */
  rabbitmqFileDescriptorRatio: number;
  /** How long fewer broker nodes than configured may be seen before `RabbitMQNodesMissing`. @default 2 */
  brokerNodesMissingMinutes: number;
  /** How long a federation upstream queue may have no consumer (the link) before `FederationLinkDown`. @default 5 */
  federationLinkDownMinutes: number;
  /** Ready messages buffered for one federation link above which `FederationBacklogHigh` fires. @default 10000 */
  federationBacklogMessages: number;
  /** Fraction of confirm-mode publishes not confirmed (nacked) above which `PublishNacks` fires. @default 0.01 */
  publishNackRatio: number;
  /** Unroutable (dropped or returned) publishes per second above which `PublishesUnroutable` fires. @default 0 */
  unroutablePerSecond: number;
  /** How long a worker or API target may fail its scrape or report not ready. @default 2 */
  workerMissingMinutes: number;
  /** Fraction of received tasks that fail, above which `TaskFailureRateHigh` fires. @default 0.05 */
  taskFailureRatio: number;
  /** Fraction of received tasks retried, above which `TaskRetryRateHigh` fires. @default 0.2 */
  taskRetryRatio: number;
  /** 95th percentile task runtime above which `TaskRuntimeP95High` fires. @default 300 */
  taskRuntimeP95Seconds: number;
  /** Tasks in flight as a fraction of total worker concurrency above which `WorkersSaturated` fires. @default 0.9 */
  workerSaturationRatio: number;
  /** Redis used memory as a fraction of `maxmemory` above which `RedisMemoryHigh` fires (S36). @default 0.8 */
  redisMemoryRatio: number;
  /** Mean server-side command time above which `RedisLatencyHigh` fires (S36). @default 1000 */
  redisCommandMicroseconds: number;
  /** Keys evicted per second above which `RedisEvictingKeys` fires (evicted results are lost). @default 0 */
  redisEvictionsPerSecond: number;
  /** Free fraction of a persistent volume below which `PersistentVolumeAlmostFull` warns. @default 0.15 */
  pvcFreeWarningRatio: number;
  /** Free fraction of a persistent volume below which `PersistentVolumeFull` pages. @default 0.05 */
  pvcFreeCriticalRatio: number;
  /** How long a PersistentVolumeClaim may stay Pending (or Lost) before `PersistentVolumeClaimPending`. @default 15 */
  pvcPendingMinutes: number;
  /** Free fraction of a node filesystem below which `NodeFilesystemAlmostFull` warns. @default 0.1 */
  nodeFilesystemFreeRatio: number;
  /** Used fraction of a node's memory above which `NodeMemoryHigh` warns. @default 0.9 */
  nodeMemoryRatio: number;
  /** How long a node may be not Ready, or under pressure, before its alert. @default 5 */
  nodeConditionMinutes: number;
}

/** The defaults, in one place. */
export const DEFAULT_ALERT_THRESHOLDS: Readonly<AlertThresholds> = Object.freeze({
  queueBacklogMessages: 50_000,
  queueBacklogGrowthMessages: 5_000,
  queueBacklogGrowthWindowMinutes: 10,
  queueWithoutConsumersMinutes: 10,
  rabbitmqMemoryWarningRatio: 0.9,
  rabbitmqFileDescriptorRatio: 0.8,
  brokerNodesMissingMinutes: 2,
  federationLinkDownMinutes: 5,
  federationBacklogMessages: 10_000,
  publishNackRatio: 0.01,
  unroutablePerSecond: 0,
  workerMissingMinutes: 2,
  taskFailureRatio: 0.05,
  taskRetryRatio: 0.2,
  taskRuntimeP95Seconds: 300,
  workerSaturationRatio: 0.9,
  redisMemoryRatio: 0.8,
  redisCommandMicroseconds: 1000,
  redisEvictionsPerSecond: 0,
  pvcFreeWarningRatio: 0.15,
  pvcFreeCriticalRatio: 0.05,
  pvcPendingMinutes: 15,
  nodeFilesystemFreeRatio: 0.1,
  nodeMemoryRatio: 0.9,
  nodeConditionMinutes: 5,
});

type Kind = "count" | "minutes" | "ratio" | "rate" | "seconds";

const KINDS: Record<keyof AlertThresholds, Kind> = {
  queueBacklogMessages: "count",
  queueBacklogGrowthMessages: "count",
  queueBacklogGrowthWindowMinutes: "minutes",
  queueWithoutConsumersMinutes: "minutes",
  rabbitmqMemoryWarningRatio: "ratio",
  rabbitmqFileDescriptorRatio: "ratio",
  brokerNodesMissingMinutes: "minutes",
  federationLinkDownMinutes: "minutes",
  federationBacklogMessages: "count",
  publishNackRatio: "ratio",
  unroutablePerSecond: "rate",
  workerMissingMinutes: "minutes",
  taskFailureRatio: "ratio",
  taskRetryRatio: "ratio",
  taskRuntimeP95Seconds: "seconds",
  workerSaturationRatio: "ratio",
  redisMemoryRatio: "ratio",
  redisCommandMicroseconds: "seconds",
  redisEvictionsPerSecond: "rate",
  pvcFreeWarningRatio: "ratio",
  pvcFreeCriticalRatio: "ratio",
  pvcPendingMinutes: "minutes",
  nodeFilesystemFreeRatio: "ratio",
  nodeMemoryRatio: "ratio",
  nodeConditionMinutes: "minutes",
};

const ALLOWED: Record<Kind, string> = {
  count: "use a whole number of at least 1",
  minutes: "use a whole number of minutes from 1 to 1440",
  ratio: "use a fraction greater than 0 and less than 1",
  rate: "use a number of at least 0",
  seconds: "use a number greater than 0",
};

function valid(kind: Kind, v: unknown): boolean {
  if (typeof v !== "number" || !Number.isFinite(v)) return false;
  switch (kind) {
    case "count":
      return Number.isInteger(v) && v >= 1;
    case "minutes":
      return Number.isInteger(v) && v >= 1 && v <= 1440;
    case "ratio":
      return v > 0 && v < 1;
    case "rate":
      return v >= 0;
    case "seconds":
      return v > 0;
  }
}

/**
 * Merges user thresholds over the defaults and validates them. `path` is how the user wrote the
 * object (for example `monitoring.thresholds`), so errors name the field as written.
 */
export function resolveThresholds(
  input: Partial<AlertThresholds> | undefined,
  path = "thresholds",
): AlertThresholds {
  const out: AlertThresholds = { ...DEFAULT_ALERT_THRESHOLDS };
  for (const [key, value] of Object.entries(input ?? {})) {
    if (!(key in KINDS)) {
      const known = Object.keys(KINDS).join(", ");
      throw new Error(`${path}.${key}: unknown threshold; known thresholds are ${known}`);
    }
    if (value === undefined) continue;
    const k = key as keyof AlertThresholds;
    const kind = KINDS[k];
    if (!valid(kind, value)) {
      throw new Error(`${path}.${key}: ${JSON.stringify(value)} is not allowed; ${ALLOWED[kind]}`);
    }
    out[k] = value as number;
  }
  if (out.pvcFreeCriticalRatio >= out.pvcFreeWarningRatio) {
    throw new Error(
      `${path}.pvcFreeCriticalRatio: ${out.pvcFreeCriticalRatio} is not below pvcFreeWarningRatio (${out.pvcFreeWarningRatio}); the page must come after the warning`,
    );
  }
  return out;
}
