import { type PacingMode, curveFor, targetShare } from '../core/index';
import { type AlgorithmRun, runAlgorithm } from './engine';
import { localPacingSeries } from './localSeries';
import { runAlgorithmsInWorkers } from './parallel';
import type {
  AlgorithmSeries,
  ReplayOutcomes,
  ReplaySummary,
  RunReport,
  SimSeries,
  SimSummary,
} from './result';
import type { Scenario } from './scenario';
import { type AlgorithmSummary, type CampaignDayScore, r6, scoreRun, thresholdFailures } from './scores';
import { type World, buildWorld } from './world';

export interface RunOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number;
  /** Overrides the scenario's list of algorithms. */
  readonly algorithms?: readonly PacingMode[];
  /** Share of the whole run done (all algorithms), at every simulated minute. */
  readonly onProgress?: (done: number, algorithm: PacingMode) => void;
  /** Worker threads to run algorithms in parallel (1: all in this thread). Results do not depend on it. */
  readonly threads?: number;
  /** Asserts the engine's invariants after every event (default: SIM_CHECK_INVARIANTS=1 in the environment). */
  readonly checkInvariants?: boolean;
}

export type { AlgorithmSeries, SimSeries, SimSummary } from './result';

/** A run's report data, plus the raw runs and the world they ran in (for tests and traffic.json). */
export interface ScenarioResult extends RunReport {
  readonly runs: readonly AlgorithmRun[];
  readonly world: World;
}

export const SERIES_STEP_MINUTES = 5;

function seriesOf(run: AlgorithmRun, world: World): AlgorithmSeries {
  const step = SERIES_STEP_MINUTES;
  const nC = run.campaigns.length;
  const totalBudget = run.campaigns.reduce((a, c) => a + c.dailyBudgetMicros, 0) * run.days;
  const perMinute = new Float64Array(run.minutes);
  for (let c = 0; c < nC; c++)
    for (let m = 0; m < run.minutes; m++)
      perMinute[m] = perMinute[m]! + run.spendPerMinute[c * run.minutes + m]!;
  const curves = run.campaigns.map((c) => curveFor(c));
  const out: AlgorithmSeries = {
    algorithm: run.mode,
    spendShare: [],
    targetShare: [],
    spendPerHourMicros: [],
    meanThrottle: [],
    breakerOpen: [],
    breakerHalfOpen: [],
    degradedInstances: [],
  };
  let cum = 0;
  for (let m0 = 0; m0 < run.minutes; m0 += step) {
    let th = 0;
    for (let m = m0; m < m0 + step; m++) {
      cum += perMinute[m]!;
      th += run.meanThrottlePerMinute[m]!;
    }
    const end = m0 + step;
    let target = 0;
    for (let c = 0; c < nC; c++) {
      // Each campaign's own local day and its real length: the target follows its zone.
      const local = world.campaigns[c]!.localDays;
      const day = local.dayOfMinute[end - 1]!;
      const b = local.boundaryMinutes;
      const done =
        day < 0
          ? 0
          : day >= run.days
            ? day
            : day + targetShare(curves[c]!, (end - b[day]!) / (b[day + 1]! - b[day]!));
      target += run.campaigns[c]!.dailyBudgetMicros * done;
    }
    out.spendShare.push(r6(cum / totalBudget));
    out.targetShare.push(r6(target / totalBudget));
    out.meanThrottle.push(r6(th / step));
    out.breakerOpen.push(run.breakerOpenPerMinute[end - 1]!);
    out.breakerHalfOpen.push(run.breakerHalfOpenPerMinute[end - 1]!);
    out.degradedInstances.push(run.degradedInstancesPerMinute[end - 1]!);
  }
  // A run that starts at a half-hour zone's midnight (Asia/Kolkata) ends on a part hour.
  for (let h = 0; h < run.minutes / 60; h++) {
    let s = 0;
    for (let m = h * 60; m < (h + 1) * 60 && m < run.minutes; m++) s += perMinute[m]!;
    out.spendPerHourMicros.push(s);
  }
  return out;
}

/** Which wins of each algorithm paid a recorded price, and which a price of the fitted model. */
function replaySummary(replay: ReplayOutcomes, runs: readonly AlgorithmRun[]): ReplaySummary {
  return {
    ...replay,
    wins: runs.map((r) => {
      const wins = r.wins.reduce((a, b) => a + b, 0);
      return {
        algorithm: r.mode,
        wins,
        atRecordedPrice: r.winsAtRecordedPrice,
        atModelPrice: wins - r.winsAtRecordedPrice,
      };
    }),
  };
}

/**
 * Runs every algorithm of the scenario over the same stream and campaigns (each campaign's mode
 * overridden by the algorithm) and scores them. The programmatic entry point of the simulator.
 */
export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<ScenarioResult> {
  const world = buildWorld(scenario, opts.seed ?? scenario.seed);
  const algorithms = opts.algorithms ?? scenario.algorithms;
  const runs: AlgorithmRun[] = [];
  const summaries: AlgorithmSummary[] = [];
  const campaignDays: Record<string, CampaignDayScore[]> = {};
  const failures: string[] = [];
  const threads = Math.max(1, Math.min(opts.threads ?? 1, algorithms.length));
  const runsInOrder =
    threads > 1
      ? await runAlgorithmsInWorkers(world, algorithms, threads, opts.onProgress, opts.checkInvariants)
      : null;
  for (let a = 0; a < algorithms.length; a++) {
    const mode = algorithms[a]!;
    const onProgress = opts.onProgress;
    const run =
      runsInOrder?.[a] ??
      (await runAlgorithm(world, mode, {
        onProgress: onProgress ? (done) => onProgress((a + done) / algorithms.length, mode) : undefined,
        checkInvariants: opts.checkInvariants,
      }));
    const scored = scoreRun(
      run,
      world.campaigns,
      scenario.instances.count,
      scenario.faults.latency !== undefined,
    );
    runs.push(run);
    summaries.push(scored.summary);
    campaignDays[mode] = scored.campaignDays;
    failures.push(...thresholdFailures(scored.summary, scenario.thresholds));
  }
  const first = runs[0]!;
  const step = SERIES_STEP_MINUTES;
  const rps: number[] = [];
  for (let m0 = 0; m0 < first.minutes; m0 += step) {
    let n = 0;
    for (let m = m0; m < m0 + step; m++) n += first.requestsPerMinute[m]!;
    rps.push(r6(n / (step * 60)));
  }
  const series: SimSeries = {
    stepMinutes: step,
    startMs: world.startMs,
    requestsPerSecond: rps,
    surges: world.stream.plan.surges,
    outages: world.outages,
    algorithms: runs.map((r) => seriesOf(r, world)),
    localDays: runs.flatMap((r) => localPacingSeries(r, world)),
  };
  const summary: SimSummary = {
    scenario: {
      name: scenario.name,
      description: scenario.description,
      seed: world.seed,
      startDate: scenario.startDate,
      days: scenario.days,
      instances: scenario.instances.count,
      syncIntervalMs: scenario.instances.syncIntervalMs,
      stream: scenario.stream.kind,
      pricing: scenario.market.pricing,
      ...(scenario.market.candidates === 'all' && { candidates: 'all' as const }),
      campaigns: world.campaigns.length,
      timeZones: Object.fromEntries(
        [...world.zones.keys()].map((z) => [z, world.campaigns.filter((c) => c.timeZone === z).length]),
      ),
      constrainedCampaigns: world.campaigns.filter((c) => c.constrained).length,
      outages: world.outages.length,
      ...(world.restarts.length > 0 && { restarts: world.restarts.length }),
      ...(scenario.faults.latency && { latency: scenario.faults.latency }),
      ...(world.stream.replay && { replay: replaySummary(world.stream.replay, runs) }),
    },
    algorithms: summaries,
    thresholds: scenario.thresholds,
    failures,
    ok: failures.length === 0,
  };
  return {
    summary,
    series,
    campaigns: world.campaigns.map((c) => ({
      id: c.id,
      dailyBudgetMicros: c.dailyBudgetMicros,
      bidCpmMicros: c.bidCpmMicros,
      participation: c.participation,
      constrained: c.constrained,
      fullPassToBudget: r6(c.fullPassToBudget),
      timeZone: c.timeZone,
    })),
    campaignDays,
    runs,
    world,
  };
}

/**
 * What the tuner reads from a past run (`npm run tune -- <scenario> --from <run dir>`): requests per
 * hour of the run (the stream, the same for every algorithm) and each algorithm's spend per hour.
 * Wins and clicks are counted per campaign-day by the engine, so they are not broken down by hour.
 */
export interface RunTraffic {
  readonly scenario: string;
  readonly seed: number;
  readonly startDate: string;
  readonly days: number;
  readonly requestsPerHour: readonly number[];
  readonly algorithms: readonly {
    readonly algorithm: PacingMode;
    readonly spendPerHourMicros: readonly number[];
  }[];
}

export function runTraffic(result: ScenarioResult): RunTraffic {
  const perMinute = result.runs[0]!.requestsPerMinute;
  const requestsPerHour: number[] = [];
  for (let h = 0; h < perMinute.length / 60; h++) {
    let n = 0;
    for (let m = h * 60; m < (h + 1) * 60 && m < perMinute.length; m++) n += perMinute[m]!;
    requestsPerHour.push(n);
  }
  const s = result.summary.scenario;
  return {
    scenario: s.name,
    seed: s.seed,
    startDate: s.startDate,
    days: s.days,
    requestsPerHour,
    algorithms: result.series.algorithms.map((a) => ({
      algorithm: a.algorithm,
      spendPerHourMicros: a.spendPerHourMicros,
    })),
  };
}
