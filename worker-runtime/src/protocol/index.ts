export * from "./json.js";
export * from "./message.js";
export * from "./result.js";
