import {
  type Static,
  type TNumber,
  type TObject,
  type TOptional,
  type TSchema,
  Type,
} from '@sinclair/typebox';
import { CodedError, PACING_MODES, type PacingMode } from '../../core/index';
import { schemaChecker } from '../schemaCheck';
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
const ToleranceSchema = Type.Object(
  { abs: Type.Number({ minimum: 0 }), rel: Type.Number({ minimum: 0 }) },
  { additionalProperties: false },
);
export type Tolerance = Readonly<Static<typeof ToleranceSchema>>;

export const DEFAULT_TOLERANCES: Readonly<Record<ScoreName, Tolerance>> = Object.freeze({
  accuracyMeanConstrained: { abs: 0.001, rel: 0 },
  utilisationMeanConstrained: { abs: 0.005, rel: 0 },
  rmseNormalisedMean: { abs: 0.005, rel: 0.02 },
  maxDeviationMean: { abs: 0.002, rel: 0.02 },
  overspentCampaignDays: { abs: 0, rel: 0 },
  maxOverspendShare: { abs: 0.0005, rel: 0 },
  spendLostMicros: { abs: 0, rel: 0 },
});

/** One object with a `T` for each watched score: required, or defaulted from `defaults`. */
function perScore<T extends TSchema>(item: (k: ScoreName) => T) {
  return Type.Object(
    Object.fromEntries(SCORE_NAMES.map((k) => [k, item(k)])) as unknown as Record<ScoreName, T>,
    {
      additionalProperties: false,
    },
  );
}

/** The baseline file's schema: a score is a number; a tolerance the file leaves out is the default. */
const BaselineSchema = Type.Object(
  {
    tolerances: Type.Optional(
      Type.Object(
        Object.fromEntries(
          SCORE_NAMES.map((k) => [k, Type.Optional({ ...ToleranceSchema, default: DEFAULT_TOLERANCES[k] })]),
        ) as unknown as Record<ScoreName, TOptional<typeof ToleranceSchema>>,
        { additionalProperties: false, default: {} },
      ),
    ),
    scenarios: Type.Record(
      Type.String(),
      Type.Object(
        Object.fromEntries(
          PACING_MODES.map((m) => [m, Type.Optional(perScore(() => Type.Number()))]),
        ) as unknown as Record<PacingMode, TOptional<TObject<Record<ScoreName, TNumber>>>>,
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type ScoreRow = Readonly<Record<ScoreName, number>>;

/**
 * scenario name -> algorithm -> watched scores, as the schema reads it: every tolerance present
 * (the schema fills the defaults). Committed as JSON; rewritten only by --update.
 */
export type Baseline = Readonly<{
  tolerances: Readonly<Record<ScoreName, Tolerance>>;
  scenarios: Readonly<Record<string, Readonly<Static<typeof BaselineSchema>['scenarios'][string]>>>;
}>;

/** A baseline file that cannot be used: each problem names its field ("/path: what is wrong"). */
export class BaselineError extends CodedError {
  constructor(source: string, problems: readonly string[]) {
    super('CHECK_ERR_BAD_BASELINE', `${source}: ${problems.join('; ')}`);
    this.name = 'BaselineError';
  }
}

export function scoreRow(s: AlgorithmSummary): ScoreRow {
  const row = {} as Record<ScoreName, number>;
  for (const k of SCORE_NAMES) row[k] = s[k];
  return row;
}

const checkBaseline = schemaChecker(BaselineSchema);

/**
 * Validates a baseline file's JSON with its schema, which also fills every tolerance the file
 * leaves out; the first problem is reported with the path of its field.
 */
export function parseBaseline(text: string, source: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new BaselineError(source, [`/: not valid JSON: ${(err as Error).message}`]);
  }
  const problems = checkBaseline(data);
  if (problems.length > 0) throw new BaselineError(source, problems);
  return data as Baseline;
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
