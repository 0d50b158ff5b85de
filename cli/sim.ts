import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PACING_MODES, type PacingMode, errorCode } from '../core/index';
import { buildReportHtml } from '../reports/buildReport';
import { UsageError, isBadInput, isInvariantBroken } from '../sim/errorCodes';
import { prepareOutDir } from '../sim/outDir';
import type { ReplaySummary } from '../sim/result';
import { type ScenarioResult, runScenario, runTraffic } from '../sim/run';
import { loadScenario } from '../sim/scenario';

export const EXIT_OK = 0;
export const EXIT_BELOW_THRESHOLDS = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_INTERNAL = 3;

const HELP = `Usage: npm run sim -- <scenario.yaml> [options]

Runs every algorithm (pacing mode) of the scenario over the same bid stream and campaigns,
scores them and writes a self-contained HTML report with summary.json.

Options:
  --seed N              run with seed N instead of the scenario's seed
  --out DIR             where to write report.html, summary.json, campaign-days.json and
                        traffic.json (requests and spend per hour, for npm run tune -- --from)
                        (default: out/<scenario name>-<seed>)
  --algorithms A,B,...  compare these modes instead of the scenario's
                        (${PACING_MODES.join(', ')})
  --threads N           run up to N algorithms in parallel worker threads
                        (default: the machine's cores, at most one per algorithm;
                        the results do not depend on it)
  --quiet               no progress bar
  -h, --help            this text

Exit codes: 0 ok, 1 scores below the scenario's thresholds, 2 bad input, 3 internal error
(a broken invariant: the message carries the seed and scenario to replay it).`;

export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly isTty: boolean;
}

/** Writes the run's files into `dir`; returns their paths. */
export async function writeOutputs(
  result: ScenarioResult,
  dir: string,
): Promise<{ report: string; summary: string }> {
  mkdirSync(dir, { recursive: true });
  const summary = join(dir, 'summary.json');
  const report = join(dir, 'report.html');
  writeFileSync(summary, `${JSON.stringify({ ...result.summary, campaigns: result.campaigns }, null, 2)}\n`);
  writeFileSync(join(dir, 'campaign-days.json'), `${JSON.stringify(result.campaignDays, null, 1)}\n`);
  writeFileSync(join(dir, 'traffic.json'), `${JSON.stringify(runTraffic(result))}\n`);
  writeFileSync(report, await buildReportHtml(result));
  return { report, summary };
}

function progressBar(io: CliIo): (done: number, algorithm: PacingMode) => void {
  let shown = -1;
  return (done, algorithm) => {
    const pct = Math.floor(done * 100);
    if (pct === shown) return;
    shown = pct;
    const width = 30;
    const full = Math.round((pct / 100) * width);
    io.stderr(
      `\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(pct).padStart(3)}% ${algorithm.padEnd(13)}`,
    );
  };
}

function table(result: ScenarioResult): string {
  const head =
    '| algorithm | accuracy (constrained) | min accuracy | utilisation (constrained) | min utilisation | overspent beyond bound | max overspend | spend lost | breaker trips |';
  const sep = '|---|---|---|---|---|---|---|---|---|';
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const rows = result.summary.algorithms.map(
    (a) =>
      `| ${a.algorithm}${a.algorithm === 'ASAP' ? ' (vs EVEN curve)' : ''} | ${pct(a.accuracyMeanConstrained)} | ${pct(a.accuracyMinConstrained)} | ${pct(a.utilisationMeanConstrained)} | ${pct(a.utilisationMinConstrained)} | ${a.overspentBeyondBound} | ${pct(a.maxOverspendShare)} | ${a.spendLostMicros} | ${a.breakerTrips} |`,
  );
  return [head, sep, ...rows].join('\n');
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let scenarioPath = '';
  let seed: number | undefined;
  let scenarioSeed: number | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        seed: { type: 'string' },
        out: { type: 'string' },
        algorithms: { type: 'string' },
        quiet: { type: 'boolean' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(`${HELP}\n`);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError('give exactly one scenario file');
    scenarioPath = positionals[0]!;
    if (values.seed !== undefined) {
      if (!/^\d+$/.test(values.seed) || Number(values.seed) > 4294967295)
        throw new UsageError(`--seed must be an integer from 0 to 4294967295, not "${values.seed}"`);
      seed = Number(values.seed);
    }
    let algorithms: PacingMode[] | undefined;
    if (values.algorithms !== undefined) {
      algorithms = values.algorithms.split(',').map((a) => a.trim().toUpperCase()) as PacingMode[];
      const bad = algorithms.filter((a) => !PACING_MODES.includes(a));
      if (bad.length > 0 || algorithms.length === 0)
        throw new UsageError(
          `unknown algorithm(s) ${bad.join(', ')}; choose from ${PACING_MODES.join(', ')}`,
        );
    }
    let threads = availableParallelism();
    if (values.threads !== undefined) {
      if (!/^\d+$/.test(values.threads) || Number(values.threads) < 1 || Number(values.threads) > 64)
        throw new UsageError(`--threads must be an integer from 1 to 64, not "${values.threads}"`);
      threads = Number(values.threads);
    }
    const scenario = loadScenario(scenarioPath);
    scenarioSeed = scenario.seed;
    const runSeed = seed ?? scenario.seed;
    const outDir = resolve(values.out ?? join('out', `${scenario.name}-${runSeed}`));
    prepareOutDir(outDir);
    const showProgress = io.isTty && !values.quiet;
    const result = await runScenario(scenario, {
      seed: runSeed,
      threads,
      ...(algorithms && { algorithms }),
      ...(showProgress && { onProgress: progressBar(io) }),
    });
    if (showProgress) io.stderr('\n');
    const files = await writeOutputs(result, outDir);
    const replay = result.summary.scenario.replay;
    io.stdout(
      `${table(result)}\n${replay ? `\n${replayLine(replay)}\n` : ''}\nreport:  ${files.report}\nsummary: ${files.summary}\n`,
    );
    if (!result.summary.ok) {
      io.stderr(`scores below the thresholds of ${scenarioPath} (seed ${runSeed}):\n`);
      for (const f of result.summary.failures) io.stderr(`  - ${f}\n`);
      return EXIT_BELOW_THRESHOLDS;
    }
    return EXIT_OK;
  } catch (err) {
    // Classified by code only: a RangeError from deep inside is a bug, not bad input.
    if (isBadInput(err)) {
      const usage = errorCode(err) === 'SIM_ERR_USAGE' || errorCode(err)?.startsWith('ERR_PARSE_ARGS_');
      io.stderr(`error: ${err.message}\n${usage ? `\n${HELP}\n` : ''}`);
      return EXIT_BAD_INPUT;
    }
    const replay = `scenario ${scenarioPath || '?'}, seed ${seed ?? scenarioSeed ?? '?'}`;
    if (isInvariantBroken(err)) io.stderr(`invariant broken (${replay}): ${err.message}\n`);
    else io.stderr(`internal error (${replay}): ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_INTERNAL;
  }
}

/** Where a production replay's market prices came from, in one line under the table. */
function replayLine(r: ReplaySummary): string {
  const pct = (n: number) => `${((100 * n) / Math.max(1, r.replayed)).toFixed(1)}%`;
  const wins = r.wins.map((w) => `${w.algorithm} ${w.atRecordedPrice}/${w.wins}`).join(', ');
  return `replay of ${r.replayed} recorded decisions: market price recorded (the server's bid won) for ${pct(r.recordedWins)}, drawn from the fitted lognormal (median ${r.priceModel.medianCpmMicros} micros CPM, sigma ${r.priceModel.sigma}) above the bid for ${pct(r.modelAboveBid)} (lost) and unconditioned for ${pct(r.modelUnconditional)} (not bid); wins at a recorded price: ${wins}.`;
}

const isEntry =
  process.argv[1] !== undefined &&
  resolve(process.argv[1]).replace(/\.ts$/, '') === resolve(import.meta.dirname ?? '', 'sim');
if (isEntry) {
  const code = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    isTty: Boolean(process.stderr.isTTY),
  });
  process.exitCode = code;
}
