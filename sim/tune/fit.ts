import { mean, sum } from 'simple-statistics';
import { HOUR_MS } from '../../core/index';
import type { BidSource } from '../sources/source';
import type { FitBasis } from './multipliersFile';

/** What a stream held in each hour of the day (0..23): the raw material of a fit. */
export interface HourlyTotals {
  readonly requests: number[];
  /** Sum of market prices / 1000: what buying every request would have cost, micros. */
  readonly costMicros: number[];
  readonly pctr: number[];
  /** Recorded clicks (rows without a click column count 0). */
  readonly clicks: number[];
}

export function emptyTotals(): HourlyTotals {
  const z = () => new Array<number>(24).fill(0);
  return { requests: z(), costMicros: z(), pctr: z(), clicks: z() };
}

/**
 * Bins a stream by hour of the (UTC, simulated) day. `hourOf` maps a request time to the hour it
 * stands for, and may return -1 to leave the request out (outside the training window).
 */
export function collectTotals(
  source: BidSource,
  hourOf: (timeMs: number) => number,
  into: HourlyTotals = emptyTotals(),
): HourlyTotals {
  const req = source.req;
  while (source.next()) {
    const h = hourOf(req.timeMs);
    if (h < 0) continue;
    source.fill?.();
    into.requests[h] = into.requests[h]! + 1;
    into.costMicros[h] = into.costMicros[h]! + req.marketPriceCpmMicros / 1000;
    into.pctr[h] = into.pctr[h]! + req.pctr;
    if (req.click > 0) into.clicks[h] = into.clicks[h]! + 1;
  }
  return into;
}

/** Hour of day of a time, counted from `startMs` (a simulated midnight). */
export function hourOfDay(startMs: number): (timeMs: number) => number {
  return (t) => Math.floor((t - startMs) / HOUR_MS) % 24;
}

/**
 * The value basis: each hour's traffic times its expected clicks per unit cost relative to the
 * day's. An hour with twice the traffic and the same value per unit cost gets twice the budget;
 * an hour whose requests give twice the clicks per unit cost gets twice as much again. Expected
 * clicks are the pctr sums (recorded clicks are too few per hour to fit on), or the clicks when the
 * stream carries no pctr.
 */
export function valueWeights(t: HourlyTotals): number[] {
  const expected = t.pctr.some((x) => x > 0) ? t.pctr : t.clicks;
  const totalCost = t.costMicros.reduce((a, b) => a + b, 0);
  const totalValue = expected.reduce((a, b) => a + b, 0);
  if (!(totalCost > 0 && totalValue > 0)) return t.requests;
  const dayRate = totalValue / totalCost;
  return t.requests.map((n, h) => {
    const cost = t.costMicros[h]!;
    return cost > 0 ? (n * (expected[h]! / cost)) / dayRate : 0;
  });
}

export interface FitOptions {
  readonly basis: FitBasis;
  /** Half-width in hours of a triangular kernel that smooths the shares around the clock; 0: none. */
  readonly smoothingHours: number;
  /** Blend towards flat: 0 keeps the fitted shape, 1 is flat (EVEN's curve). */
  readonly shrink: number;
  /** Hours that had history; the rest take the mean of the observed hours (a flat prior). */
  readonly hoursObserved: readonly number[];
}

const DECIMALS = 1e4;

/**
 * 24 multipliers with mean 1 from hourly totals: each observed hour's share of the basis, smoothed,
 * shrunk towards flat, rounded to 4 decimals so the file's bytes do not depend on summation noise.
 */
export function fitMultipliers(t: HourlyTotals, o: FitOptions): number[] {
  const raw =
    o.basis === 'requests'
      ? t.requests
      : o.basis === 'cost'
        ? t.costMicros
        : o.basis === 'pctr'
          ? t.pctr
          : o.basis === 'clicks'
            ? t.clicks
            : valueWeights(t);
  const observed = new Set(o.hoursObserved);
  if (observed.size === 0) throw new RangeError('fit: no observed hours');
  const seen = raw.filter((_, h) => observed.has(h));
  const level = mean(seen);
  if (!(level > 0)) throw new RangeError(`fit: the ${o.basis} of the observed hours sums to 0`);
  const filled = raw.map((x, h) => (observed.has(h) ? x : level));
  let shape = filled;
  if (o.smoothingHours > 0) {
    const k = o.smoothingHours;
    shape = filled.map((_, h) => {
      const w: number[] = [];
      const v: number[] = [];
      for (let d = -Math.floor(k); d <= Math.floor(k); d++) {
        w.push(1 - Math.abs(d) / (k + 1));
        v.push(filled[(h + d + 24) % 24]!);
      }
      return sum(v.map((x, i) => x * w[i]!)) / sum(w);
    });
  }
  const m = mean(shape);
  return shape.map((x) => Math.round(((1 - o.shrink) * (x / m) + o.shrink) * DECIMALS) / DECIMALS);
}
