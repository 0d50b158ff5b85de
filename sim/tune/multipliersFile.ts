import { readFileSync } from 'node:fs';
import { HOURS_PER_DAY } from '../../core/index';

/** Controller gains a tune may set; in the server they are process-wide (PACING_TICK_MS, PACING_CATCH_UP_TICKS). */
export interface TunedGains {
  readonly tickMs: number;
  readonly catchUpTicks: number;
}

/**
 * What the tuner writes and scenarios, the check suite and the server's campaign API load: the 24
 * ADAPTIVE multipliers (mean 1), where they came from and how they were fitted. Written with the
 * server's spelling `hourly_multipliers`; read with either spelling.
 */
export interface MultipliersFile {
  readonly hourlyMultipliers: readonly number[];
  /** The history it was fitted on: a scenario's stream under another seed, a recording, a past run. */
  readonly source: string;
  readonly fittedOn: {
    readonly basis: FitBasis;
    /** Hours of the day with history; the others took the prior (flat). */
    readonly hoursObserved: readonly number[];
    readonly requests: number;
    readonly seed: number | null;
  };
  /** Gains picked by the search, or null when the search was skipped. */
  readonly gains: TunedGains | null;
}

export const FIT_BASES = ['requests', 'cost', 'pctr', 'clicks', 'value'] as const;
export type FitBasis = (typeof FIT_BASES)[number];

export class MultipliersFileError extends Error {
  readonly code = 'TUNE_ERR_BAD_MULTIPLIERS';
  constructor(source: string, field: string, message: string) {
    super(`${source}: ${field}: ${message}`);
    this.name = 'MultipliersFileError';
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks 24 finite weights in [0, 1000] with one above 0 (the core's campaign rule), naming the field. */
export function checkMultipliers(m: unknown, source: string, field: string): readonly number[] {
  if (!Array.isArray(m) || m.length !== HOURS_PER_DAY)
    throw new MultipliersFileError(source, field, 'must be a list of exactly 24 numbers');
  m.forEach((x, h) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1000)
      throw new MultipliersFileError(
        source,
        `${field}[${h}]`,
        `${JSON.stringify(x)} is not a number from 0 to 1000`,
      );
  });
  if (!m.some((x) => x > 0))
    throw new MultipliersFileError(source, field, 'at least one hour must be above 0');
  return Object.freeze([...(m as number[])]);
}

/** Parses and validates a multipliers file (or a campaign JSON with `hourly_multipliers`). */
export function parseMultipliersFile(text: string, source: string): MultipliersFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new MultipliersFileError(source, '/', `not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(data)) throw new MultipliersFileError(source, '/', 'must be a JSON object');
  const key = 'hourlyMultipliers' in data ? 'hourlyMultipliers' : 'hourly_multipliers';
  if (!(key in data)) throw new MultipliersFileError(source, 'hourlyMultipliers', 'is missing');
  const hourlyMultipliers = checkMultipliers(data[key], source, key);
  const fitted = isRecord(data.fittedOn) ? data.fittedOn : {};
  const basis = FIT_BASES.includes(fitted.basis as FitBasis) ? (fitted.basis as FitBasis) : 'requests';
  let gains: TunedGains | null = null;
  if (data.gains !== undefined && data.gains !== null) {
    const g = data.gains;
    if (!isRecord(g)) throw new MultipliersFileError(source, 'gains', 'must be an object or null');
    if (!(typeof g.tickMs === 'number' && Number.isInteger(g.tickMs) && g.tickMs >= 1000))
      throw new MultipliersFileError(source, 'gains.tickMs', 'must be a whole number of ms >= 1000');
    if (!(typeof g.catchUpTicks === 'number' && g.catchUpTicks >= 1))
      throw new MultipliersFileError(source, 'gains.catchUpTicks', 'must be a number >= 1');
    gains = Object.freeze({ tickMs: g.tickMs, catchUpTicks: g.catchUpTicks });
  }
  return Object.freeze({
    hourlyMultipliers,
    source: typeof data.source === 'string' ? data.source : source,
    fittedOn: Object.freeze({
      basis,
      hoursObserved: Object.freeze(
        Array.isArray(fitted.hoursObserved) ? (fitted.hoursObserved as number[]) : [...Array(24).keys()],
      ),
      requests: typeof fitted.requests === 'number' ? fitted.requests : 0,
      seed: typeof fitted.seed === 'number' ? fitted.seed : null,
    }),
    gains,
  });
}

export function loadMultipliersFile(path: string): MultipliersFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MultipliersFileError(path, '/', `cannot read the file: ${(err as Error).message}`);
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
