import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { CodedError, HOURS_PER_DAY, MAX_HOURLY_MULTIPLIER } from '../../core/index';
import { schemaChecker } from '../schemaCheck';

export const FIT_BASES = ['requests', 'cost', 'pctr', 'clicks', 'value'] as const;
export type FitBasis = (typeof FIT_BASES)[number];

const Multipliers = Type.Array(Type.Number({ minimum: 0, maximum: MAX_HOURLY_MULTIPLIER }), {
  minItems: HOURS_PER_DAY,
  maxItems: HOURS_PER_DAY,
});

const GainsSchema = Type.Object(
  { tickMs: Type.Integer({ minimum: 1000 }), catchUpTicks: Type.Number({ minimum: 1 }) },
  { additionalProperties: false },
);

const FittedOnSchema = Type.Object(
  {
    basis: Type.Optional(
      Type.Unsafe<FitBasis>({ type: 'string', enum: [...FIT_BASES], default: 'requests' }),
    ),
    hoursObserved: Type.Optional(
      Type.Array(Type.Integer({ minimum: 0, maximum: HOURS_PER_DAY - 1 }), {
        default: [...Array(HOURS_PER_DAY).keys()],
      }),
    ),
    requests: Type.Optional(Type.Number({ minimum: 0, default: 0 })),
    seed: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { default: null })),
  },
  { default: {} },
);

/**
 * The multipliers file's schema. Open (other fields pass) because a campaign JSON of the server
 * API, with its `hourly_multipliers`, is a multipliers file too; what it leaves out of the fit's
 * description takes the schema's defaults.
 */
const MultipliersFileSchema = Type.Object({
  hourlyMultipliers: Type.Optional(Multipliers),
  hourly_multipliers: Type.Optional(Multipliers),
  source: Type.Optional(Type.String()),
  fittedOn: Type.Optional(FittedOnSchema),
  gains: Type.Optional(Type.Union([GainsSchema, Type.Null()], { default: null })),
});

/** Controller gains a tune may set; in the server they are process-wide (PACING_TICK_MS, PACING_CATCH_UP_TICKS). */
export type TunedGains = Readonly<Static<typeof GainsSchema>>;

/**
 * What the tuner writes and scenarios, the check suite and the server's campaign API load: the 24
 * ADAPTIVE multipliers (mean 1), where they came from and how they were fitted. Written with the
 * server's spelling `hourly_multipliers`; read with either spelling.
 */
export interface MultipliersFile {
  readonly hourlyMultipliers: readonly number[];
  /** The history it was fitted on: a scenario's stream under another seed, a recording, a past run. */
  readonly source: string;
  /** Hours of the day with history (the others took the prior, flat), and what was fitted. */
  readonly fittedOn: {
    readonly [K in keyof Static<typeof FittedOnSchema>]-?: K extends 'hoursObserved'
      ? readonly number[]
      : Exclude<Static<typeof FittedOnSchema>[K], undefined>;
  };
  /** Gains picked by the search, or null when the search was skipped. */
  readonly gains: TunedGains | null;
}

export class MultipliersFileError extends CodedError {
  constructor(source: string, problems: readonly string[]) {
    super('TUNE_ERR_BAD_MULTIPLIERS', `${source}: ${problems.join('; ')}`);
    this.name = 'MultipliersFileError';
  }
}

const checkFile = schemaChecker(MultipliersFileSchema);

/** Parses and validates a multipliers file (or a campaign JSON with `hourly_multipliers`). */
export function parseMultipliersFile(text: string, source: string): MultipliersFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new MultipliersFileError(source, [`/: not valid JSON: ${(err as Error).message}`]);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new MultipliersFileError(source, ['/: must be a JSON object']);
  const problems = checkFile(data);
  if (problems.length > 0) throw new MultipliersFileError(source, problems);
  const f = data as Static<typeof MultipliersFileSchema>;
  const key = f.hourlyMultipliers !== undefined ? 'hourlyMultipliers' : 'hourly_multipliers';
  const m = f[key];
  if (m === undefined) throw new MultipliersFileError(source, ['/hourlyMultipliers: is missing']);
  // The one part of the core's campaign rule a schema cannot say.
  if (!m.some((x) => x > 0))
    throw new MultipliersFileError(source, [`/${key}: at least one hour must be above 0`]);
  const fitted = f.fittedOn!;
  return Object.freeze({
    hourlyMultipliers: Object.freeze([...m]),
    source: f.source ?? source,
    fittedOn: Object.freeze({
      basis: fitted.basis!,
      hoursObserved: Object.freeze(fitted.hoursObserved!),
      requests: fitted.requests!,
      seed: fitted.seed ?? null,
    }),
    gains: f.gains ? Object.freeze({ tickMs: f.gains.tickMs, catchUpTicks: f.gains.catchUpTicks }) : null,
  });
}

export function loadMultipliersFile(path: string): MultipliersFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MultipliersFileError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseMultipliersFile(text, path);
}

/**
 * Stable bytes: fixed key order, two-space indent, trailing newline. The multipliers are written
 * as `hourly_multipliers`, the server's field, so `jq` can lift them into a request unchanged.
 */
export function formatMultipliersFile(f: MultipliersFile): string {
  const ordered = {
    hourly_multipliers: f.hourlyMultipliers,
    source: f.source,
    fittedOn: {
      basis: f.fittedOn.basis,
      hoursObserved: f.fittedOn.hoursObserved,
      requests: f.fittedOn.requests,
      seed: f.fittedOn.seed,
    },
    gains: f.gains === null ? null : { tickMs: f.gains.tickMs, catchUpTicks: f.gains.catchUpTicks },
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** The body of the server's POST /pacing/mode that switches a campaign to these multipliers. */
export function pacingModeRequest(f: MultipliersFile, campaignId: string) {
  return {
    campaign_id: campaignId,
    pacing_mode: 'ADAPTIVE' as const,
    hourly_multipliers: [...f.hourlyMultipliers],
  };
}
