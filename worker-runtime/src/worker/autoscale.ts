/**
 * Celery's autoscaler rule (`celery/worker/autoscale.py`), pure: the target is the number of
 * reserved requests; grow at once to min(qty, max); shrink to max(qty, min) only when the last
 * growth is older than the keep-alive (AUTOSCALE_KEEPALIVE, 30 s by default).
 */
export interface AutoscaleLimits {
  max: number;
  min: number;
}

export function parseAutoscale(text: string, field = "--autoscale"): AutoscaleLimits {
  const m = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw new Error(`${field}: "${text}" is not max,min; use e.g. --autoscale=50,10`);
  const max = Number(m[1]);
  const min = m[2] === undefined ? 0 : Number(m[2]);
  if (max < 1 || min > max) {
    throw new Error(
      `${field}: "${text}" is not allowed; max must be ≥ 1 and min ≤ max (e.g. 50,10)`,
    );
  }
  return { max, min };
}

export class Autoscaler {
  current: number;
  private lastScaleUp = 0;
  constructor(
    readonly limits: AutoscaleLimits,
    readonly keepAliveMs = 30_000,
  ) {
    this.current = Math.max(limits.min, 1);
  }

  /** Applies the rule for `qty` reserved requests at time `now`; returns the new concurrency. */
  update(qty: number, now: number): number {
    const { max, min } = this.limits;
    if (qty > this.current) {
      const next = Math.min(qty, max);
      if (next > this.current) {
        this.current = next;
        this.lastScaleUp = now;
      }
    } else if (qty < this.current && now - this.lastScaleUp > this.keepAliveMs) {
      this.current = Math.max(qty, min, 1);
    }
    return this.current;
  }
}
