/**
 * A cap on tasks being published (sent, not yet confirmed) at once, in all and per client. A
 * request that would pass either cap is refused at once (429 with Retry-After), never parked in a
 * queue of waiting publishes: memory stays bounded whatever clients send. Pure.
 */
export interface InFlightCaps {
  /** Tasks in flight across all clients. @default 20000 */
  readonly total: number;
  /** Tasks in flight for one client. @default 10000 */
  readonly perClient: number;
}

export const DEFAULT_IN_FLIGHT: InFlightCaps = { total: 20_000, perClient: 10_000 };

export class InFlightLimiter {
  readonly caps: InFlightCaps;
  private total = 0;
  private readonly byClient = new Map<string, number>();

  constructor(caps: InFlightCaps = DEFAULT_IN_FLIGHT) {
    this.caps = caps;
  }

  get inFlight(): number {
    return this.total;
  }

  /** Takes `n` slots for `client`; null when taken, else why not (for the 429's message). */
  acquire(client: string, n: number): string | null {
    const mine = this.byClient.get(client) ?? 0;
    if (mine + n > this.caps.perClient) {
      return `client "${client}" has ${mine} tasks being published and may have at most ${this.caps.perClient}; retry after the Retry-After seconds`;
    }
    if (this.total + n > this.caps.total) {
      return `the API is publishing ${this.total} tasks, its limit is ${this.caps.total}; retry after the Retry-After seconds`;
    }
    this.byClient.set(client, mine + n);
    this.total += n;
    return null;
  }

  release(client: string, n: number): void {
    const left = (this.byClient.get(client) ?? 0) - n;
    if (left > 0) this.byClient.set(client, left);
    else this.byClient.delete(client);
    this.total -= n;
  }
}
