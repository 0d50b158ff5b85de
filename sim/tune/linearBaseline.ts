import { pacerConfig } from '../../core/index';
import type { SimCampaign } from '../campaigns';
import type { World } from '../world';
import { runMode } from './runWorld';

/**
 * The iPinYou benchmark's linear bidding (Zhang, Yuan, Wang and Shen, "Real-Time Bidding
 * Benchmarking with iPinYou Dataset", 2014): bid = base x pctr / average CTR, with `base` tuned on
 * training data for the most clicks within the budget. It runs through the same core as every
 * pacer, with the project's budget guarantees (reservations, breaker, the fit check) and no
 * throttle: ASAP with no tiers, so only the budget stops it.
 */
export interface LinearBaseline {
  /** Mean pctr of the training hours: the "average CTR" of the formula. */
  readonly avgCtr: number;
  /** Tuned base bid per campaign (CPM micros), in campaign order. */
  readonly baseCpmMicros: readonly number[];
}

/** Base bids tried: 1/64 of the campaign's bid up to twice it, in steps of about 1.41x. */
export function baseGrid(bidCpmMicros: number): number[] {
  const out: number[] = [];
  for (let k = -12; k <= 2; k++) out.push(Math.max(1, Math.round(bidCpmMicros * 2 ** (k / 2))));
  return [...new Set(out)];
}

/** One campaign of `world` bidding linearly with `base`, capped at its max bid, unthrottled. */
export function linearWorld(
  world: World,
  campaign: SimCampaign,
  baseCpmMicros: number,
  avgCtr: number,
): World {
  const scenario = {
    ...world.scenario,
    bidding: { kind: 'linear_ctr' as const, baseCtr: avgCtr, valueSignal: 'none' as const },
  };
  return Object.freeze({
    ...world,
    scenario,
    campaigns: Object.freeze([Object.freeze({ ...campaign, bidCpmMicros: baseCpmMicros })]),
    config: pacerConfig({ ...world.config, asapTiers: [] }),
  });
}

/**
 * For each campaign of the training world: the base of `baseGrid` that buys the most clicks there
 * without overspending (ties: the higher utilisation, then the lower base).
 */
export async function tuneLinear(train: World, avgCtr: number): Promise<LinearBaseline> {
  const bases: number[] = [];
  for (const c of train.campaigns) {
    let best = { base: 0, clicks: -1, utilisation: -1 };
    for (const base of baseGrid(c.bidCpmMicros)) {
      const { summary } = await runMode(linearWorld(train, c, base, avgCtr), 'ASAP');
      if (summary.overspentBeyondBound > 0) continue;
      const u = summary.utilisationMeanConstrained;
      if (summary.clicks > best.clicks || (summary.clicks === best.clicks && u > best.utilisation))
        best = { base, clicks: summary.clicks, utilisation: u };
    }
    bases.push(best.base > 0 ? best.base : c.bidCpmMicros);
  }
  return { avgCtr, baseCpmMicros: bases };
}
