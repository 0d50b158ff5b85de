import { DEFAULT_PACER_CONFIG, type PacerConfig, type PacingMode, pacerConfig } from '../../core/index';
import type { SimCampaign } from '../campaigns';
import { type AlgorithmRun, runAlgorithm } from '../engine';
import { type AlgorithmSummary, scoreRun } from '../scores';
import type { World } from '../world';

/** What a tuner may change in a world before running it: the ADAPTIVE curve and controller gains. */
export interface WorldOverrides {
  /** Replaces every campaign's 24 hourly multipliers (the curve ADAPTIVE paces against). */
  readonly hourlyMultipliers?: readonly number[];
  /** Core pacer config fields laid over the scenario's own. */
  readonly pacer?: Partial<Pick<PacerConfig, 'tickMs' | 'catchUpTicks' | 'rateHalfLifeMs'>>;
  /** Keeps only these campaigns (by index), e.g. to run one budget of a backtest alone. */
  readonly campaignIndexes?: readonly number[];
}

/** A copy of the world with the overrides applied; the stream and the seed are untouched. */
export function withOverrides(world: World, o: WorldOverrides): World {
  let campaigns: readonly SimCampaign[] = world.campaigns;
  if (o.campaignIndexes) campaigns = o.campaignIndexes.map((i) => campaigns[i]!);
  const m = o.hourlyMultipliers;
  if (m) campaigns = campaigns.map((c) => Object.freeze({ ...c, hourlyMultipliers: Object.freeze([...m]) }));
  const config =
    o.pacer && Object.keys(o.pacer).length > 0
      ? pacerConfig({
          ...world.config,
          ...o.pacer,
          breaker: world.config.breaker ?? DEFAULT_PACER_CONFIG.breaker,
        })
      : world.config;
  return Object.freeze({ ...world, campaigns: Object.freeze(campaigns), config });
}

export interface ModeResult {
  readonly summary: AlgorithmSummary;
  readonly run: AlgorithmRun;
}

/** Runs and scores one pacing mode over a world, as `runScenario` does for each of its algorithms. */
export async function runMode(world: World, mode: PacingMode): Promise<ModeResult> {
  const run = await runAlgorithm(world, mode);
  const { summary } = scoreRun(run, world.campaigns, world.scenario.instances.count);
  return { summary, run };
}
