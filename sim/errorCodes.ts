import { CodedError, errorCode } from '../core/index';

/**
 * The simulator's error codes (sim, sim:check, tune) and what each means to a CLI: `bad_input`
 * exits 2 with the message (it names the bad field or flag), `invariant` exits 3 naming the seed.
 * Anything else, a RangeError from deep inside included, is an internal error: a bug, not input.
 * The classes stay beside the code that raises them; this is the one list of their codes.
 */
export const SIM_ERROR_CODES = {
  SIM_ERR_USAGE: 'bad_input',
  SIM_ERR_BAD_SCENARIO: 'bad_input',
  SIM_ERR_BAD_RECORDING: 'bad_input',
  SIM_ERR_BAD_OUTPUT: 'bad_input',
  CHECK_ERR_BAD_BASELINE: 'bad_input',
  TUNE_ERR_BAD_MULTIPLIERS: 'bad_input',
  TUNE_ERR_BAD_HISTORY: 'bad_input',
  TUNE_ERR_EMPTY_WINDOW: 'bad_input',
  SIM_ERR_INVARIANT: 'invariant',
} as const;

export type SimErrorCode = keyof typeof SIM_ERROR_CODES;

function kindOf(err: unknown): 'bad_input' | 'invariant' | undefined {
  const code = errorCode(err);
  if (code === undefined) return undefined;
  // node:util parseArgs rejects unknown or malformed flags with these codes.
  if (code.startsWith('ERR_PARSE_ARGS_')) return 'bad_input';
  return Object.hasOwn(SIM_ERROR_CODES, code) ? SIM_ERROR_CODES[code as SimErrorCode] : undefined;
}

/** True for an error whose code says the input was bad (exit 2). */
export function isBadInput(err: unknown): err is Error {
  return kindOf(err) === 'bad_input';
}

/** True for a broken simulator invariant (exit 3, with seed and scenario to replay it). */
export function isInvariantBroken(err: unknown): err is Error {
  return kindOf(err) === 'invariant';
}

/** A bad flag or argument on a simulator CLI. */
export class UsageError extends CodedError {
  constructor(message: string) {
    super('SIM_ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

/** `--out` cannot be created or written: found before the run starts, not after. */
export class OutputDirError extends CodedError {
  constructor(dir: string, cause: unknown) {
    super(
      'SIM_ERR_BAD_OUTPUT',
      `--out ${dir}: cannot write there (${(cause as Error).message ?? String(cause)}); pick a writable directory.`,
      { cause },
    );
    this.name = 'OutputDirError';
  }
}
