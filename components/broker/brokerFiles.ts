/**
 * The three files a RabbitMQ node of the region boots from, in one call. The Pulumi
 * `BrokerCluster` component and the local target both place exactly these.
 */
import type { BrokerSpec } from "./brokerSpec.js";
import {
  renderDefinitions,
  type BrokerCredentials,
  type DefinitionsOptions,
} from "./definitions.js";
import {
  renderEnabledPlugins,
  renderRabbitmqConf,
  type RabbitmqConfOptions,
} from "./rabbitmqConf.js";

/** File name → content. */
export interface BrokerFiles {
  readonly "rabbitmq.conf": string;
  readonly enabled_plugins: string;
  readonly "definitions.json": string;
}

export const BROKER_FILE_NAMES: readonly (keyof BrokerFiles)[] = Object.freeze([
  "rabbitmq.conf",
  "enabled_plugins",
  "definitions.json",
]);

export function renderBrokerFiles(
  spec: BrokerSpec,
  credentials: BrokerCredentials,
  options: RabbitmqConfOptions & DefinitionsOptions = {},
): BrokerFiles {
  return {
    "rabbitmq.conf": renderRabbitmqConf(spec, options),
    enabled_plugins: renderEnabledPlugins(options.formation),
    "definitions.json": renderDefinitions(spec, credentials, options),
  };
}
