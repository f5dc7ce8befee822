/**
 * The error every config check throws. Its message names the key as the user wrote it in the
 * stack file (`taskfleet:network.cidr`), the value, and what is allowed. Pure: no Pulumi import.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Renders a user's value for an error message: strings quoted, objects as compact JSON. */
export function show(value: unknown): string {
  if (value === undefined) return "undefined";
  return JSON.stringify(value);
}
