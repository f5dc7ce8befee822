/**
 * Small typed readers over untyped config objects. Each one takes the path of the field as the
 * user wrote it and throws a {@link ConfigError} naming that path, the value and what is allowed.
 * Pure: no Pulumi import, no I/O.
 */
import { ConfigError, show } from "./errors.js";

export type Raw = Record<string, unknown>;

/** Reads an optional object (a missing or null value gives `{}`). */
export function object(value: unknown, path: string): Raw {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(
      `${path}: ${show(value)} is not an object; write it as a YAML mapping of keys to values`,
    );
  }
  return value as Raw;
}

/** Rejects keys that the schema does not know, so a typo is not silently ignored. */
export function onlyKeys(obj: Raw, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(`${path}.${key}: unknown key; allowed keys are ${allowed.join(", ")}`);
    }
  }
}

export function string(value: unknown, path: string, fallback?: string): string {
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${path}: missing; set it to a string`);
  }
  if (typeof value !== "string" || value.length === 0) {
    throw new ConfigError(`${path}: ${show(value)} is not a non-empty string`);
  }
  return value;
}

export function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  return string(value, path);
}

export function oneOf<T extends string>(
  value: unknown,
  path: string,
  allowed: readonly T[],
  fallback?: T,
): T {
  const v = value === undefined || value === null ? fallback : value;
  if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
  throw new ConfigError(
    `${path}: ${show(value)} is not allowed; use one of ${allowed.map((a) => `"${a}"`).join(", ")}`,
  );
}

export function integer(
  value: unknown,
  path: string,
  range: { min: number; max: number },
  fallback?: number,
): number {
  const v = value === undefined || value === null ? fallback : value;
  if (v === undefined)
    throw new ConfigError(`${path}: missing; set an integer from ${range.min} to ${range.max}`);
  if (typeof v !== "number" || !Number.isInteger(v) || v < range.min || v > range.max) {
    throw new ConfigError(
      `${path}: ${show(value)} is out of range; use an integer from ${range.min} to ${range.max}`,
    );
  }
  return v;
}

export function boolean(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean")
    throw new ConfigError(`${path}: ${show(value)} is not a boolean; use true or false`);
  return value;
}

export function stringArray(
  value: unknown,
  path: string,
  fallback: readonly string[] = [],
): string[] {
  if (value === undefined || value === null) return [...fallback];
  if (!Array.isArray(value))
    throw new ConfigError(`${path}: ${show(value)} is not a list; write a YAML list of strings`);
  return value.map((item, i) => string(item, `${path}[${i}]`));
}

export function array(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw new ConfigError(`${path}: ${show(value)} is not a list; write a YAML list`);
  return value;
}

/** Kubernetes quantity for CPU (`"500m"`, `"2"`). */
export function cpu(value: unknown, path: string, fallback: string): string {
  const v = value === undefined || value === null ? fallback : value;
  if (typeof v === "number" && v > 0) return String(v);
  if (typeof v === "string" && /^(\d+(\.\d+)?|\d+m)$/.test(v) && parseFloat(v) > 0) return v;
  throw new ConfigError(
    `${path}: ${show(value)} is not a CPU quantity; use cores like "2" or "1.5", or millicores like "500m"`,
  );
}
