export * from "./ports.js";
export * from "./process.js";
export * from "./rabbitmqNode.js";
export * from "./redisServer.js";
