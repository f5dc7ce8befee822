/**
 * Turns the values Pulumi hands the program (every config value is a string; structured ones are
 * JSON) back into plain data for `parseRegionConfig`. Pure: the entry program reads
 * `pulumi.Config`, `taskfleet plan` reads the stack file, both end here.
 */
import { CONFIG_KEYS } from "./regionConfig.js";

/** Keys of the `taskfleet` namespace the program reads (`broker` is the broker spec's). */
export const PROGRAM_KEYS: readonly string[] = [...CONFIG_KEYS, "broker"];

/** A config string as data: JSON objects, arrays, numbers and booleans are parsed; anything else stays a string. */
export function decodeConfigValue(value: string): unknown {
  const t = value.trim();
  if (
    t.startsWith("{") ||
    t.startsWith("[") ||
    t === "true" ||
    t === "false" ||
    /^-?\d+(\.\d+)?$/.test(t)
  ) {
    try {
      return JSON.parse(t);
    } catch {
      return value;
    }
  }
  return value;
}

/** Reads every known key through `get` (a `pulumi.Config#get`) into plain data. */
export function readStackValues(get: (key: string) => string | undefined): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const key of PROGRAM_KEYS) {
    const v = get(key);
    if (v !== undefined) raw[key] = decodeConfigValue(v);
  }
  return raw;
}
