import { CLASSIC_BREAKER_CONFIG, CodedError, type PacingMode, pacerConfig } from '../../core/index';
import { buildCampaigns } from '../campaigns';
import type { Scenario } from '../scenario';
import type { AlgorithmSummary } from '../scores';
import { type World, buildWorld } from '../world';
import { type HourlyTotals, collectTotals, hourOfDay } from './fit';
import { tuneLinear } from './linearBaseline';
import { linearWorld } from './linearBaseline';
import type { FitBasis, MultipliersFile, TunedGains } from './multipliersFile';
import { runMode, withOverrides } from './runWorld';
import { stretchedWindow } from './stretchedWindow';
import { DEFAULT_GAINS, type EvalRow, type GainTrial, type SeedStats, fitFile, searchGains } from './tune';

/** A training or judged window with no rows: nothing to fit or judge. Exit 2 in the CLI. */
export class EmptyWindowError extends CodedError {
  constructor(message: string) {
    super('TUNE_ERR_EMPTY_WINDOW', message);
    this.name = 'EmptyWindowError';
  }
}

export interface BacktestOptions {
  readonly basis: FitBasis;
  /** Inclusive clock hours. */
  readonly train: readonly [number, number];
  readonly judge: readonly [number, number];
  readonly search: boolean;
  /** Runs per row: 1 replays the log order; N > 1 shuffles rows within each hour, seeds seed..seed+N-1. */
  readonly seeds: number;
}

export interface BacktestResult {
  /** Clock-hour multipliers fitted on the training hours, with the searched gains. */
  readonly file: MultipliersFile;
  /** What tuned ADAPTIVE paces the judged window with (clock hours; unseen hours flat). */
  readonly forecast: MultipliersFile;
  readonly trials: GainTrial[];
  readonly sections: { heading: string; rows: EvalRow[] }[];
  readonly notes: string[];
}

/**
 * Clock-hour multipliers resampled onto a window [fromHour, toHour] stretched over a simulated
 * day: stretched hour k covers clock hours [from + k L / 24, from + (k + 1) L / 24), L the
 * window's length, and takes their mean. The multipliers file stays in clock hours (what the
 * server paces real days with); only the simulation of a stretched window needs this.
 */
export function stretchMultipliers(clock: readonly number[], fromHour: number, toHour: number): number[] {
  const len = toHour - fromHour + 1;
  return Array.from({ length: 24 }, (_, k) => {
    const a = fromHour + (k * len) / 24;
    const b = fromHour + ((k + 1) * len) / 24;
    let sum = 0;
    for (let h = Math.floor(a); h < b; h++) sum += clock[h % 24]! * (Math.min(b, h + 1) - Math.max(a, h));
    return Math.round((sum / (b - a)) * 1e4) / 1e4;
  });
}

function windowTotals(world: World, from: number, to: number): HourlyTotals {
  const hour = hourOfDay(world.startMs);
  return collectTotals(world.stream.open(world.seed), (t) => {
    const h = hour(t);
    return h >= from && h <= to && t - world.startMs < 86_400_000 ? h : -1;
  });
}

const sumOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** A window of the recording as its own stretched day, each campaign's budget scaled to the window. */
function windowWorld(base: World, scenario: Scenario, from: number, to: number, costShare: number): World {
  const stream = stretchedWindow(base.stream, from, to + 1);
  const scaled: Scenario = {
    ...scenario,
    campaigns: {
      list: scenario.campaigns.list!.map((c) => ({
        ...c,
        dailyBudgetMicros: Math.max(1, Math.round(c.dailyBudgetMicros * costShare)),
      })),
    },
  };
  return Object.freeze({ ...base, stream, campaigns: Object.freeze(buildCampaigns(scaled, stream.plan)) });
}

function withValueSignal(w: World, valueSignal: 'pctr' | 'none'): World {
  const scenario = { ...w.scenario, bidding: { ...w.scenario.bidding, valueSignal } };
  return Object.freeze({ ...w, scenario });
}

function withClassicBreaker(w: World): World {
  return Object.freeze({ ...w, config: pacerConfig({ ...w.config, breaker: CLASSIC_BREAKER_CONFIG }) });
}

/** Runs one row over every seed; the summary shown is the first seed's, the spread is over all. */
async function seededRow(
  label: string,
  algorithm: PacingMode,
  gains: TunedGains,
  world: World,
  seeds: readonly number[],
): Promise<EvalRow> {
  const runs: AlgorithmSummary[] = [];
  for (const seed of seeds) runs.push((await runMode(Object.freeze({ ...world, seed }), algorithm)).summary);
  const clicks = runs.map((s) => s.clicks);
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const spread: SeedStats = {
    seeds: seeds.length,
    clicksMean: r4(sumOf(clicks) / clicks.length),
    clicksMin: Math.min(...clicks),
    clicksMax: Math.max(...clicks),
    rmseMean: r4(sumOf(runs.map((s) => s.rmseNormalisedMean)) / runs.length),
    maxDeviationMean: r4(sumOf(runs.map((s) => s.maxDeviationMean)) / runs.length),
    utilisationMin: Math.min(...runs.map((s) => s.utilisationMeanConstrained)),
    overspentCampaignDays: sumOf(runs.map((s) => s.overspentCampaignDays)),
  };
  return { label, algorithm, gains, summary: runs[0]!, spread };
}

const BASIS_TOTALS = { requests: 'requests', cost: 'costMicros', pctr: 'pctr', clicks: 'clicks' } as const;

/**
 * The whole recording's hourly totals, after checking that both windows can be fitted and
 * judged: rows in each, some cost in each (budgets are scaled by the window's share of it), and
 * some of the fit's basis in the training hours.
 */
function checkedTotals(
  base: World,
  scenario: Scenario,
  o: Pick<BacktestOptions, 'basis' | 'train' | 'judge'>,
): HourlyTotals {
  if (!scenario.campaigns.list) throw new EmptyWindowError('a recorded scenario needs campaigns.list');
  const [t0, t1] = o.train;
  const [j0, j1] = o.judge;
  const all = collectTotals(base.stream.open(base.seed), hourOfDay(base.startMs));
  const rowsIn = (a: number, b: number) => sumOf(all.requests.slice(a, b + 1));
  if (rowsIn(t0, t1) === 0)
    throw new EmptyWindowError(`--train-hours ${t0}-${t1}: the recording has no rows in those hours`);
  if (rowsIn(j0, j1) === 0)
    throw new EmptyWindowError(
      `--judge-hours ${j0}-${j1}: the recording has no rows in those hours (it has rows in hours ${all.requests.flatMap((n, h) => (n > 0 ? [h] : [])).join(', ')})`,
    );
  for (const [flag, a, b] of [
    ['--train-hours', t0, t1],
    ['--judge-hours', j0, j1],
  ] as const)
    if (!(sumOf(all.costMicros.slice(a, b + 1)) > 0))
      throw new EmptyWindowError(
        `${flag} ${a}-${b}: the recording has no cost (market price) in those hours to scale budgets by; pick other hours`,
      );
  const train = windowTotals(base, t0, t1);
  const fittable = o.basis === 'value' ? train.requests : train[BASIS_TOTALS[o.basis]];
  if (!(sumOf(fittable) > 0))
    throw new EmptyWindowError(
      `--train-hours ${t0}-${t1}: no ${o.basis} in those hours to fit on; pick other hours or another --basis`,
    );
  return all;
}

/**
 * Checks a recorded scenario's windows before the CLI creates its output directory, so a window
 * that cannot be backtested exits 2 having written nothing.
 */
export function checkBacktestWindows(
  scenario: Scenario,
  o: Pick<BacktestOptions, 'basis' | 'train' | 'judge'>,
): void {
  checkedTotals(buildWorld(scenario), scenario, o);
}

/**
 * The backtest of a recorded scenario: fit and search on the training hours only, judge on later
 * hours the fit never read, every campaign alone, with the rows a reader needs to tell where a
 * gain comes from: coin against value, classic against precision breaker, curve against gains,
 * and the literature's linear bidding.
 */
export async function recordedBacktest(scenario: Scenario, o: BacktestOptions): Promise<BacktestResult> {
  const stream = scenario.stream;
  const shuffled: Scenario =
    o.seeds > 1 && stream.kind === 'recorded'
      ? { ...scenario, stream: { ...stream, order: 'shuffled' } }
      : scenario;
  const base = buildWorld(shuffled);
  const [t0, t1] = o.train;
  const [j0, j1] = o.judge;
  const all = checkedTotals(base, scenario, o);
  const costShare = (a: number, b: number) => sumOf(all.costMicros.slice(a, b + 1)) / sumOf(all.costMicros);
  const trainWorld = windowWorld(base, shuffled, t0, t1, costShare(t0, t1));
  const judgeWorld = windowWorld(base, shuffled, j0, j1, costShare(j0, j1));
  const n = trainWorld.campaigns.length;
  const trainTotals = windowTotals(base, t0, t1);

  const source = `${scenario.name}, recorded hours ${t0}-${t1}`;
  const clockFile = fitFile(trainTotals, { basis: o.basis, source, seed: null });
  const beforeClock = fitFile(trainTotals, { basis: 'requests', source, seed: null }).hourlyMultipliers;

  const trials: GainTrial[] = [];
  let gains: TunedGains | null = null;
  if (o.search) {
    // Each campaign (budget) alone; the lowest mean RMSE over them without overspend wins.
    const per: GainTrial[][] = [];
    const onTrain = stretchMultipliers(clockFile.hourlyMultipliers, t0, t1);
    for (let c = 0; c < n; c++) {
      const w = Object.freeze({ ...trainWorld, campaigns: Object.freeze([trainWorld.campaigns[c]!]) });
      per.push((await searchGains(w, onTrain)).trials);
    }
    const mean = (i: number, f: (t: GainTrial) => number) =>
      Math.round((per.reduce((a, p) => a + f(p[i]!), 0) / n) * 1e6) / 1e6;
    for (let i = 0; i < per[0]!.length; i++)
      trials.push({
        gains: per[0]![i]!.gains,
        rmseNormalisedMean: mean(i, (t) => t.rmseNormalisedMean),
        accuracyMeanConstrained: mean(i, (t) => t.accuracyMeanConstrained),
        overspentCampaignDays: per.reduce((a, p) => a + p[i]!.overspentCampaignDays, 0),
      });
    let best: GainTrial | null = null;
    for (const t of trials)
      if (t.overspentCampaignDays === 0 && (best === null || t.rmseNormalisedMean < best.rmseNormalisedMean))
        best = t;
    gains = best?.gains ?? null;
  }
  const file: MultipliersFile = { ...clockFile, gains };
  const tunedGains = gains ?? DEFAULT_GAINS;
  const forecast: MultipliersFile = {
    ...file,
    source: `${file.source}; judged hours ${j0}-${j1} unseen by the fit take the flat prior`,
  };
  const avgCtr = sumOf(trainTotals.pctr) / sumOf(trainTotals.requests);
  const linear = avgCtr > 0 ? await tuneLinear(trainWorld, avgCtr) : null;

  const seeds = Array.from({ length: o.seeds }, (_, i) => scenario.seed + i);
  const sections: { heading: string; rows: EvalRow[] }[] = [];
  for (let c = 0; c < n; c++) {
    const camp = judgeWorld.campaigns[c]!;
    const alone = Object.freeze({ ...judgeWorld, campaigns: Object.freeze([camp]) });
    const coin = withValueSignal(alone, 'none');
    const value = withValueSignal(alone, 'pctr');
    const before = withOverrides(value, { hourlyMultipliers: stretchMultipliers(beforeClock, j0, j1) });
    const tuned = withOverrides(value, {
      hourlyMultipliers: stretchMultipliers(file.hourlyMultipliers, j0, j1),
      pacer: tunedGains,
    });
    const rows: EvalRow[] = [
      await seededRow('EVEN, coin flip', 'EVEN', DEFAULT_GAINS, coin, seeds),
      await seededRow(
        'EVEN, coin flip, classic breaker',
        'EVEN',
        DEFAULT_GAINS,
        withClassicBreaker(coin),
        seeds,
      ),
      await seededRow('EVEN, value-aware', 'EVEN', DEFAULT_GAINS, value, seeds),
      await seededRow(
        'ADAPTIVE before tuning (traffic of the training hours), value-aware',
        'ADAPTIVE',
        DEFAULT_GAINS,
        before,
        seeds,
      ),
      await seededRow(
        `ADAPTIVE tuned (${o.basis} basis + gains), value-aware`,
        'ADAPTIVE',
        tunedGains,
        tuned,
        seeds,
      ),
    ];
    if (gains !== null)
      rows.push(
        await seededRow(
          'EVEN with the tuned gains, value-aware',
          'EVEN',
          tunedGains,
          withOverrides(value, { pacer: gains }),
          seeds,
        ),
      );
    if (linear !== null)
      rows.push(
        await seededRow(
          `LINEAR bidding (Zhang et al. 2014), base ${(linear.baseCpmMicros[c]! / 1e4).toFixed(1)} fen CPM tuned on hours ${t0}-${t1}`,
          'ASAP',
          DEFAULT_GAINS,
          linearWorld(alone, camp, linear.baseCpmMicros[c]!, linear.avgCtr),
          seeds,
        ),
      );
    sections.push({
      heading: `Judged (out of sample): recorded hours ${j0}-${j1}, campaign ${camp.id} (budget ${(camp.dailyBudgetMicros / 1e6).toFixed(2)} units)`,
      rows,
    });
  }
  const notes = [
    `Each window of the recording is stretched over one simulated day (${24 / (t1 - t0 + 1)}x / ${24 / (j1 - j0 + 1)}x slower); every campaign runs alone, its budget scaled to the window's share of the recording's cost.`,
    `Fit, gain search and the linear baseline's base read recorded hours ${t0}-${t1} only. multipliers.json is in clock hours (what POST /pacing/mode takes); the judged hours ${j0}-${j1} were never observed, so they take the flat prior there.`,
    o.seeds > 1
      ? `Every row ran ${o.seeds} times, seeds ${seeds[0]}-${seeds.at(-1)}, each a different order of the rows within each hour (the log gives none); the table shows the first seed's scores and the clicks' mean [min-max] over all.`
      : 'One run per row, in the log order.',
    'Coin flip: the pacer passes a random share of requests. Value-aware: it passes the requests whose pctr is above the quantile its throttle asks for, and shades the bids of middling ones. LINEAR: bid = base x pctr / mean pctr of the training hours, no throttle, only the budget guarantees stop it.',
  ];
  return { file, forecast, trials, sections, notes };
}
