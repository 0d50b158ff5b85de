import type { PacingMode } from '../../core/index';
import type { AlgorithmSummary } from '../scores';

/** The scores the gate watches, and which way is worse. */
export const WATCHED_SCORES = {
  accuracyMeanConstrained: 'higher',
  utilisationMeanConstrained: 'higher',
  rmseNormalisedMean: 'lower',
  maxDeviationMean: 'lower',
  overspentCampaignDays: 'lower',
  maxOverspendShare: 'lower',
  spendLostMicros: 'lower',
} as const satisfies Partial<Record<keyof AlgorithmSummary, 'higher' | 'lower'>>;

export type ScoreName = keyof typeof WATCHED_SCORES;
export const SCORE_NAMES = Object.keys(WATCHED_SCORES) as ScoreName[];

/**
 * How far a score may move the wrong way before the gate fails: absolute, plus a share of the
 * baseline value. Runs are byte-deterministic from their seed, so these only absorb float noise
 * across machines and Node versions (Math.exp/log), never run-to-run randomness.
 */
export interface Tolerance {
  readonly abs: number;
  readonly rel: number;
}

export const DEFAULT_TOLERANCES: Readonly<Record<ScoreName, Tolerance>> = Object.freeze({
  accuracyMeanConstrained: { abs: 0.001, rel: 0 },
  utilisationMeanConstrained: { abs: 0.005, rel: 0 },
  rmseNormalisedMean: { abs: 0.005, rel: 0.02 },
  maxDeviationMean: { abs: 0.002, rel: 0.02 },
  overspentCampaignDays: { abs: 0, rel: 0 },
  maxOverspendShare: { abs: 0.0005, rel: 0 },
  spendLostMicros: { abs: 0, rel: 0 },
});

export type ScoreRow = Readonly<Record<ScoreName, number>>;

/** scenario name -> algorithm -> watched scores. Committed as JSON; rewritten only by --update. */
export interface Baseline {
  readonly tolerances: Readonly<Record<ScoreName, Tolerance>>;
  readonly scenarios: Readonly<Record<string, Readonly<Partial<Record<PacingMode, ScoreRow>>>>>;
}

export class BaselineError extends Error {
  readonly code = 'CHECK_ERR_BAD_BASELINE';
  constructor(source: string, field: string, message: string) {
    super(`${source}: ${field}: ${message}`);
    this.name = 'BaselineError';
  }
}

export function scoreRow(s: AlgorithmSummary): ScoreRow {
  const row = {} as Record<ScoreName, number>;
  for (const k of SCORE_NAMES) row[k] = s[k];
  return row;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Validates a baseline file's JSON, naming the first bad field. */
export function parseBaseline(text: string, source: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new BaselineError(source, '/', `not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(data)) throw new BaselineError(source, '/', 'must be an object');
  const tol = data.tolerances ?? {};
  if (!isRecord(tol)) throw new BaselineError(source, 'tolerances', 'must be an object');
  const tolerances = { ...DEFAULT_TOLERANCES } as Record<ScoreName, Tolerance>;
  for (const [k, v] of Object.entries(tol)) {
    if (!(k in WATCHED_SCORES)) throw new BaselineError(source, `tolerances.${k}`, 'is not a watched score');
    if (!isRecord(v) || typeof v.abs !== 'number' || typeof v.rel !== 'number' || v.abs < 0 || v.rel < 0)
      throw new BaselineError(source, `tolerances.${k}`, 'must be { abs: number >= 0, rel: number >= 0 }');
    tolerances[k as ScoreName] = { abs: v.abs, rel: v.rel };
  }
  if (!isRecord(data.scenarios)) throw new BaselineError(source, 'scenarios', 'must be an object');
  for (const [name, algs] of Object.entries(data.scenarios)) {
    if (!isRecord(algs)) throw new BaselineError(source, `scenarios.${name}`, 'must be an object');
    for (const [alg, row] of Object.entries(algs)) {
      if (!isRecord(row)) throw new BaselineError(source, `scenarios.${name}.${alg}`, 'must be an object');
      for (const k of SCORE_NAMES)
        if (typeof row[k] !== 'number' || !Number.isFinite(row[k]))
          throw new BaselineError(source, `scenarios.${name}.${alg}.${k}`, 'must be a finite number');
    }
  }
  return data as unknown as Baseline;
}

/** Stable bytes: scenarios and algorithms in the order given, scores in WATCHED_SCORES order. */
export function formatBaseline(b: Baseline): string {
  const scenarios: Record<string, Record<string, ScoreRow>> = {};
  for (const [name, algs] of Object.entries(b.scenarios)) {
    scenarios[name] = {};
    for (const [alg, row] of Object.entries(algs))
      scenarios[name][alg] = scoreRow(row as unknown as AlgorithmSummary);
  }
  const tolerances: Record<string, Tolerance> = {};
  for (const k of SCORE_NAMES) tolerances[k] = { abs: b.tolerances[k].abs, rel: b.tolerances[k].rel };
  return `${JSON.stringify({ tolerances, scenarios }, null, 2)}\n`;
}

export interface Regression {
  readonly scenario: string;
  readonly algorithm: string;
  readonly score: ScoreName | 'missing';
  readonly baseline: number | null;
  readonly value: number | null;
  readonly allowed: number | null;
}

/** Every watched score that moved the wrong way by more than its tolerance, and every missing row. */
export function compareToBaseline(
  baseline: Baseline,
  current: Readonly<Record<string, Readonly<Partial<Record<PacingMode, ScoreRow>>>>>,
): Regression[] {
  const out: Regression[] = [];
  for (const [scenario, algs] of Object.entries(baseline.scenarios)) {
    for (const [algorithm, base] of Object.entries(algs) as [PacingMode, ScoreRow][]) {
      const now = current[scenario]?.[algorithm];
      if (!now) {
        out.push({ scenario, algorithm, score: 'missing', baseline: null, value: null, allowed: null });
        continue;
      }
      for (const k of SCORE_NAMES) {
        const t = baseline.tolerances[k];
        const slack = t.abs + t.rel * Math.abs(base[k]);
        const worse = WATCHED_SCORES[k] === 'higher' ? base[k] - now[k] : now[k] - base[k];
        if (worse > slack) {
          const allowed = WATCHED_SCORES[k] === 'higher' ? base[k] - slack : base[k] + slack;
          out.push({ scenario, algorithm, score: k, baseline: base[k], value: now[k], allowed });
        }
      }
    }
  }
  for (const [scenario, algs] of Object.entries(current))
    for (const algorithm of Object.keys(algs))
      if (!baseline.scenarios[scenario]?.[algorithm as PacingMode])
        out.push({ scenario, algorithm, score: 'missing', baseline: null, value: null, allowed: null });
  return out;
}

export function describeRegression(r: Regression): string {
  if (r.score === 'missing')
    return `${r.scenario} ${r.algorithm}: present on one side only (baseline vs this run); run with --update if intended`;
  const dir = WATCHED_SCORES[r.score] === 'higher' ? 'dropped' : 'rose';
  return `${r.scenario} ${r.algorithm} ${r.score} ${dir}: baseline ${r.baseline}, now ${r.value} (limit ${+r.allowed!.toFixed(9)})`;
}
