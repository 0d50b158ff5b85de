import { DEFAULT_PACER_CONFIG, type PacingMode } from '../../core/index';
import type { Scenario } from '../scenario';
import type { AlgorithmSummary } from '../scores';
import type { World } from '../world';
import { type HourlyTotals, collectTotals, fitMultipliers, hourOfDay } from './fit';
import type { FitBasis, MultipliersFile, TunedGains } from './multipliersFile';
import { runMode, withOverrides } from './runWorld';

/** Gains tried by the search, defaults first so a tie keeps them. */
export const GAIN_GRID: readonly TunedGains[] = Object.freeze(
  [60_000, 30_000, 15_000].flatMap((tickMs) =>
    [10, 5, 2].map((catchUpTicks) => Object.freeze({ tickMs, catchUpTicks })),
  ),
);

export const DEFAULT_GAINS: TunedGains = Object.freeze({
  tickMs: DEFAULT_PACER_CONFIG.tickMs,
  catchUpTicks: DEFAULT_PACER_CONFIG.catchUpTicks,
});

export interface GainTrial {
  readonly gains: TunedGains;
  readonly rmseNormalisedMean: number;
  readonly accuracyMeanConstrained: number;
  readonly overspentCampaignDays: number;
}

/**
 * Exhaustive search over GAIN_GRID for ADAPTIVE with the fitted curve on the history world:
 * the lowest pacing error (RMSE) among the settings that overspend no campaign-day.
 */
export async function searchGains(
  history: World,
  multipliers: readonly number[],
  grid: readonly TunedGains[] = GAIN_GRID,
): Promise<{ best: TunedGains; trials: GainTrial[] }> {
  const trials: GainTrial[] = [];
  let best: GainTrial | null = null;
  for (const gains of grid) {
    const { summary } = await runMode(
      withOverrides(history, { hourlyMultipliers: multipliers, pacer: gains }),
      'ADAPTIVE',
    );
    const t: GainTrial = {
      gains,
      rmseNormalisedMean: summary.rmseNormalisedMean,
      accuracyMeanConstrained: summary.accuracyMeanConstrained,
      overspentCampaignDays: summary.overspentCampaignDays,
    };
    trials.push(t);
    if (t.overspentCampaignDays === 0 && (best === null || t.rmseNormalisedMean < best.rmseNormalisedMean))
      best = t;
  }
  return { best: best?.gains ?? DEFAULT_GAINS, trials };
}

export interface FitResult {
  readonly file: MultipliersFile;
  readonly trials: GainTrial[];
}

/** The multipliers file (gains not searched yet) of hourly totals: hours with requests are observed. */
export function fitFile(
  totals: HourlyTotals,
  opts: { basis: FitBasis; source: string; seed: number | null },
): MultipliersFile {
  const hoursObserved = totals.requests.flatMap((n, h) => (n > 0 ? [h] : []));
  const hourlyMultipliers = fitMultipliers(totals, {
    basis: opts.basis,
    smoothingHours: 0,
    shrink: 0,
    hoursObserved,
  });
  return {
    hourlyMultipliers,
    source: opts.source,
    fittedOn: {
      basis: opts.basis,
      hoursObserved,
      requests: totals.requests.reduce((a, b) => a + b, 0),
      seed: opts.seed,
    },
    gains: null,
  };
}

/** Learns the 24 multipliers from a history world's stream and, unless `search` is false, the gains. */
export async function tuneOn(
  history: World,
  opts: { basis: FitBasis; source: string; search: boolean; searchWorld?: World },
): Promise<FitResult> {
  const totals = collectTotals(history.stream.open(history.seed), hourOfDay(history.startMs));
  const file = fitFile(totals, { basis: opts.basis, source: opts.source, seed: history.seed });
  const { best, trials } = opts.search
    ? await searchGains(opts.searchWorld ?? history, file.hourlyMultipliers)
    : { best: null, trials: [] };
  return { file: { ...file, gains: best }, trials };
}

/** Spread of a row over its seeds. */
export interface SeedStats {
  readonly seeds: number;
  readonly clicksMean: number;
  readonly clicksMin: number;
  readonly clicksMax: number;
  readonly rmseMean: number;
  readonly maxDeviationMean: number;
  readonly utilisationMin: number;
  readonly overspentCampaignDays: number;
}

/** One row of a before/after table. */
export interface EvalRow {
  readonly label: string;
  readonly algorithm: PacingMode;
  readonly gains: TunedGains;
  readonly summary: AlgorithmSummary;
  /** Present when the row ran over several seeds of the within-hour order (recorded backtest). */
  readonly spread?: SeedStats;
}

/**
 * Before/after on the judged world: every algorithm of the scenario with default gains (ADAPTIVE
 * with the scenario's own curve), then tuned ADAPTIVE, then EVEN with the tuned gains so a reader
 * can tell the curve's share of the gain from the controller's.
 */
export async function evaluate(
  judged: World,
  algorithms: readonly PacingMode[],
  tuned: MultipliersFile,
): Promise<EvalRow[]> {
  const rows: EvalRow[] = [];
  for (const a of algorithms) {
    const { summary } = await runMode(judged, a);
    rows.push({
      label: a === 'ADAPTIVE' ? 'ADAPTIVE (before)' : a,
      algorithm: a,
      gains: DEFAULT_GAINS,
      summary,
    });
  }
  const gains = tuned.gains ?? DEFAULT_GAINS;
  const after = await runMode(
    withOverrides(judged, { hourlyMultipliers: tuned.hourlyMultipliers, pacer: gains }),
    'ADAPTIVE',
  );
  rows.push({ label: 'ADAPTIVE (tuned)', algorithm: 'ADAPTIVE', gains, summary: after.summary });
  if (tuned.gains !== null) {
    const even = await runMode(withOverrides(judged, { pacer: gains }), 'EVEN');
    rows.push({ label: 'EVEN (tuned gains)', algorithm: 'EVEN', gains, summary: even.summary });
  }
  return rows;
}

/** A synthetic scenario shrunk for the gain search: traffic and campaign count times `scale`. */
export function scaledScenario(s: Scenario, scale: number): Scenario {
  if (scale === 1 || s.stream.kind !== 'synthetic' || !s.campaigns.generate) return s;
  const g = s.campaigns.generate;
  return {
    ...s,
    stream: { ...s.stream, meanQps: s.stream.meanQps * scale },
    campaigns: { generate: { ...g, count: Math.max(1, Math.round(g.count * scale)) } },
  };
}
