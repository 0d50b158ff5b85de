import type { Campaign } from './campaign';

/**
 * A target curve P(f): the fraction of the daily budget that should be spent by fraction f of the
 * campaign's day. Stored as 25 knots (cumulative share at each of 24 equal segments' ends, the
 * first 0 and the last 1) and interpolated linearly; on a DST day the segments stretch or shrink.
 */
export type TargetCurve = Float64Array;

export const KNOTS = 25;

export function curveFromWeights(weights: readonly number[]): TargetCurve {
  const knots = new Float64Array(KNOTS);
  let sum = 0;
  for (const w of weights) sum += w;
  let acc = 0;
  for (let h = 0; h < 24; h++) {
    acc += weights[h]!;
    knots[h + 1] = acc / sum;
  }
  knots[KNOTS - 1] = 1;
  return knots;
}

const EVEN_WEIGHTS: readonly number[] = Array.from({ length: 24 }, () => 1);
/** 70% of the budget before local noon, 30% after. */
const FRONT_LOADED_WEIGHTS: readonly number[] = Array.from({ length: 24 }, (_, h) =>
  h < 12 ? 0.7 / 12 : 0.3 / 12,
);

export const EVEN_CURVE = curveFromWeights(EVEN_WEIGHTS);
export const FRONT_LOADED_CURVE = curveFromWeights(FRONT_LOADED_WEIGHTS);

/** The curve a campaign paces against. ASAP has none; the caller does not consult it. */
export function curveFor(campaign: Campaign): TargetCurve {
  switch (campaign.pacingMode) {
    case 'FRONT_LOADED':
      return FRONT_LOADED_CURVE;
    case 'ADAPTIVE':
      return campaign.hourlyMultipliers ? curveFromWeights(campaign.hourlyMultipliers) : EVEN_CURVE;
    default:
      return EVEN_CURVE;
  }
}

/** P(f) for f in [0, 1]. */
export function targetShare(curve: TargetCurve, f: number): number {
  if (f <= 0) return 0;
  if (f >= 1) return 1;
  const x = f * 24;
  const i = Math.floor(x);
  const a = curve[i]!;
  return a + (curve[i + 1]! - a) * (x - i);
}
