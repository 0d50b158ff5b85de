/**
 * The offered load of a run: a piecewise-constant rate over the run, and the send time of every
 * request under it. The schedule is fixed before the run starts (open loop): a slow answer never
 * delays the next send, and each latency is measured from the send time the schedule gave.
 */
export const PATTERNS = ['normal', 'surge', 'circuit_breaker_test'] as const;
export type Pattern = (typeof PATTERNS)[number];

/** The reference's surge: the middle fifth of the run offers five times the base rate. */
export const SURGE_MULTIPLIER = 5;
export const SURGE_FROM_SHARE = 0.4;
export const SURGE_TO_SHARE = 0.6;

export interface RatePhase {
  readonly fromS: number;
  readonly toS: number;
  readonly rateQps: number;
}

export function ratePlan(pattern: Pattern, qps: number, durationS: number): RatePhase[] {
  if (pattern !== 'surge') return [{ fromS: 0, toS: durationS, rateQps: qps }];
  const a = durationS * SURGE_FROM_SHARE;
  const b = durationS * SURGE_TO_SHARE;
  return [
    { fromS: 0, toS: a, rateQps: qps },
    { fromS: a, toS: b, rateQps: qps * SURGE_MULTIPLIER },
    { fromS: b, toS: durationS, rateQps: qps },
  ];
}

/**
 * Request n (from 0) is sent when the plan's cumulative offered count reaches n: evenly spaced
 * inside a phase, as wrk2 does, so the achieved rate can be compared with the offered one.
 */
export class Schedule {
  readonly total: number;
  private readonly startsAt: number[];

  constructor(readonly phases: readonly RatePhase[]) {
    let count = 0;
    this.startsAt = [];
    for (const p of phases) {
      this.startsAt.push(count);
      count += p.rateQps * (p.toS - p.fromS);
    }
    this.total = Math.floor(count + 1e-9);
  }

  /** Send time of request n, in ms from the start of the run. */
  sendAtMs(n: number): number {
    for (let i = this.phases.length - 1; i >= 0; i--) {
      const p = this.phases[i]!;
      const start = this.startsAt[i]!;
      if (n >= start - 1e-9 && p.rateQps > 0) return (p.fromS + (n - start) / p.rateQps) * 1000;
    }
    return 0;
  }

  /** Offered rate at `tS` seconds into the run. */
  rateAt(tS: number): number {
    for (const p of this.phases) if (tS >= p.fromS && tS < p.toS) return p.rateQps;
    return 0;
  }
}
