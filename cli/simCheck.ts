import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type Baseline,
  BaselineError,
  DEFAULT_TOLERANCES,
  compareToBaseline,
  describeRegression,
  formatBaseline,
  parseBaseline,
} from '../sim/check/baseline';
import {
  BASELINE_PATH,
  CHECK_DIR,
  OVERRIDABLE,
  type PacerOverride,
  runSuite,
  suitePaths,
} from '../sim/check/suite';
import { UsageError, isBadInput, isInvariantBroken } from '../sim/errorCodes';

export const EXIT_OK = 0;
export const EXIT_REGRESSED = 1;
export const EXIT_BAD_INPUT = 2;

const HELP = `Usage: npm run sim:check -- [options]

Runs the fixed suite (scenarios/check/*.yaml, each with its own seed) and compares every watched
score of every algorithm with the committed baseline. Fails when a score moves the wrong way by
more than its tolerance (accuracy or utilisation down; pacing error, overspend or lost spend up).

Options:
  --update              rewrite the baseline from this run (on purpose: commit the diff)
  --baseline FILE       baseline to compare with or write (default scenarios/check/baseline.json)
  --scenarios DIR       suite directory (default scenarios/check)
  --pacer KEY=VALUE     override a pacer constant in every scenario (${OVERRIDABLE.join(', ')});
                        repeatable; for showing that the gate catches a regression
  -h, --help            this text

Exit codes: 0 no regression, 1 regression (each one named), 2 bad input.`;

export interface CheckIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

function parsePacer(items: readonly string[]): PacerOverride {
  const o: Record<string, number> = {};
  for (const item of items) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(item);
    if (!m || !(OVERRIDABLE as readonly string[]).includes(m[1]!))
      throw new UsageError(`--pacer ${item}: expected KEY=VALUE with KEY one of ${OVERRIDABLE.join(', ')}`);
    const v = Number(m[2]);
    if (!Number.isFinite(v) || v <= 0)
      throw new UsageError(`--pacer ${item}: value must be a number above 0`);
    o[m[1]!] = v;
  }
  return o;
}

export async function main(argv: readonly string[], io: CheckIo): Promise<number> {
  let update = false;
  let baselinePath = BASELINE_PATH;
  let dir = CHECK_DIR;
  let pacer: PacerOverride = {};
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        update: { type: 'boolean' },
        baseline: { type: 'string' },
        scenarios: { type: 'string' },
        pacer: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout(`${HELP}\n`);
      return EXIT_OK;
    }
    update = values.update ?? false;
    baselinePath = values.baseline ?? baselinePath;
    dir = values.scenarios ?? dir;
    pacer = parsePacer(values.pacer ?? []);
    if (update && Object.keys(pacer).length > 0)
      throw new UsageError('--update with --pacer would bless a perturbed run');
  } catch (err) {
    io.stderr(`sim:check: ${(err as Error).message}\n\n${HELP}\n`);
    return EXIT_BAD_INPUT;
  }
  try {
    let baseline: Baseline | null = null;
    if (!update) {
      if (!existsSync(baselinePath))
        throw new BaselineError(baselinePath, [
          '/: no baseline; create it with npm run sim:check -- --update',
        ]);
      baseline = parseBaseline(readFileSync(baselinePath, 'utf8'), baselinePath);
    }
    const paths = suitePaths(dir);
    if (paths.length === 0) throw new UsageError(`${dir}: no *.yaml scenarios`);
    const t0 = performance.now();
    const scores = await runSuite(paths, pacer);
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    if (update || baseline === null) {
      writeFileSync(baselinePath, formatBaseline({ tolerances: DEFAULT_TOLERANCES, scenarios: scores }));
      io.stdout(`sim:check: baseline written to ${baselinePath} (${paths.length} scenarios, ${seconds} s)\n`);
      return EXIT_OK;
    }
    const regressions = compareToBaseline(baseline, scores);
    const n = Object.values(scores).reduce((a, s) => a + Object.keys(s).length, 0);
    if (regressions.length === 0) {
      io.stdout(
        `sim:check: ok, ${paths.length} scenarios, ${n} algorithm runs within tolerance (${seconds} s)\n`,
      );
      return EXIT_OK;
    }
    for (const r of regressions) io.stderr(`REGRESSION ${describeRegression(r)}\n`);
    io.stderr(
      `sim:check: ${regressions.length} regression(s) against ${baselinePath} (${seconds} s). If intended, run npm run sim:check -- --update and commit the baseline.\n`,
    );
    return EXIT_REGRESSED;
  } catch (err) {
    // Classified by code only: a RangeError from deep inside is a bug, not bad input.
    if (isBadInput(err)) {
      io.stderr(`sim:check: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (isInvariantBroken(err)) {
      io.stderr(`sim:check: ${err.message}\n`);
      return EXIT_REGRESSED;
    }
    throw err;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  }).then((code) => {
    process.exitCode = code;
  });
}
