/** The broker layer's pure parts: spec, generators. (The Pulumi component is brokerCluster.ts.) */
export * from "./brokerSpec.js";
export * from "./rabbitmqConf.js";
export * from "./definitions.js";
export * from "./brokerFiles.js";
export * from "./rabbitmqVersion.js";
