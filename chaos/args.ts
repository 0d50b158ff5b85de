import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind, isFaultKind } from './faults';

/** The command line of `npm run chaos`, validated once; a bad value is a UsageError (exit 2). */
export interface ChaosArgs {
  readonly seed: number;
  readonly runs: number;
  readonly minutes: number;
  readonly instances: number;
  readonly faults: readonly FaultKind[];
  /** Every fault kind allowed (no --faults given). */
  readonly allFaults: boolean;
  /** Where to write the markdown results table, or null. */
  readonly results: string | null;
  /** Print each run's fault schedule and stop: nothing is started. */
  readonly plan: boolean;
  readonly help: boolean;
}

export const USAGE = `npm run chaos -- [--seed N] [--runs K] [--minutes M] [--instances N] [--faults a,b,...] [--results FILE]

  --seed N        first seed (default: drawn from the clock and printed); run i uses seed N+i
  --runs K        runs, one after another (default 1, at most 10000)
  --minutes M     traffic per run in minutes (default 0.5; 0.05 to 60); faults fall in its first 80%
  --instances N   server processes sharing the Redis (default 3, 1 to 8)
  --faults LIST   comma-separated fault kinds (default all): ${FAULT_KINDS.join(', ')}
  --results FILE  also write a markdown table of the runs to FILE
  --plan          print each run's fault schedule (from its seed) and start nothing

Exit codes: 0 no invariant violated, 1 a violation (seed, schedule and replay command printed), 2 bad arguments.`;

export class UsageError extends Error {
  readonly code = 'PACER_ERR_CHAOS_USAGE';
}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${name} "${raw}" must be a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

export function parseChaosArgs(argv: readonly string[], defaultSeed: () => number): ChaosArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        seed: { type: 'string' },
        runs: { type: 'string' },
        minutes: { type: 'string' },
        instances: { type: 'string' },
        faults: { type: 'string' },
        results: { type: 'string' },
        plan: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (k: string) => values[k] as string | undefined;
  const minutesRaw = str('minutes');
  const minutes = minutesRaw === undefined ? 0.5 : Number(minutesRaw);
  if (minutesRaw !== undefined && (!/^\d*\.?\d+$/.test(minutesRaw) || minutes < 0.05 || minutes > 60)) {
    throw new UsageError(`--minutes "${minutesRaw}" must be a number from 0.05 to 60`);
  }
  const faultsRaw = str('faults');
  let faults: FaultKind[] = [...FAULT_KINDS];
  if (faultsRaw !== undefined) {
    const names = faultsRaw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bad = names.filter((n) => !isFaultKind(n) && n !== 'none');
    if (bad.length > 0)
      throw new UsageError(`--faults: unknown ${bad.join(', ')}; known: ${FAULT_KINDS.join(', ')}, none`);
    faults = names.filter(isFaultKind);
  }
  return Object.freeze({
    seed: int('seed', str('seed'), defaultSeed(), 0, 2 ** 31 - 1),
    runs: int('runs', str('runs'), 1, 1, 10_000),
    minutes,
    instances: int('instances', str('instances'), 3, 1, 8),
    faults,
    allFaults: faultsRaw === undefined,
    results: str('results') ?? null,
    plan: values.plan === true,
    help: values.help === true,
  });
}
