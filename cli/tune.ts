import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CAMPAIGN_ID_PATTERN, type PacingMode } from '../core/index';
import { tuneReportMarkdown } from '../reports/tuneReport';
import { UsageError, isBadInput } from '../sim/errorCodes';
import { prepareOutDir } from '../sim/outDir';
import { type Scenario, loadScenario } from '../sim/scenario';
import type { HourlyTotals } from '../sim/tune/fit';
import { type History, loadHistory } from '../sim/tune/history';
import {
  FIT_BASES,
  type FitBasis,
  type MultipliersFile,
  formatMultipliersFile,
} from '../sim/tune/multipliersFile';
import { checkBacktestWindows, recordedBacktest } from '../sim/tune/recordedBacktest';
import { SERVER_BASES, type ServerBasis } from '../sim/tune/serverFit';
import { type ServerHistoryFit, fitFromServer, isServerHistory } from '../sim/tune/serverSource';
import {
  type EvalRow,
  type GainTrial,
  evaluate,
  fitFile,
  scaledScenario,
  searchGains,
  tuneOn,
} from '../sim/tune/tune';
import { buildWorld } from '../sim/world';

export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 2;

const HELP = `Usage: npm run tune -- <scenario.yaml> [--from <recording or past sim run>] [options]

Learns the 24 ADAPTIVE hourly multipliers (each hour's share of the history's requests, cost,
pctr or clicks) and the controller gains (exhaustive search over tick and catch-up ticks), writes
them as a multipliers file and a before/after report.

Synthetic scenario: the history is the scenario's stream under seed + 1 (the day before); the
before/after is judged on the scenario's own seed.
Recorded scenario: --train-hours and --judge-hours pick two windows of the recording; each is
stretched over a simulated day and every campaign runs alone with its budget scaled to the
window's share of the recording's cost. Hours of the judged window are never read by the fit.

--from: fit the hourly shares on that history instead of simulating a fitting day, then judge on
the scenario. A recorded stream file (CSV/TSV) is read with the scenario's column mapping when
the scenario is recorded, else when it is in the iPinYou layout with the iPinYou preset; a past
run's directory (npm run sim -- <scenario> --out DIR) is read from its traffic.json (requests per
hour: --basis requests only). Gains are searched on the scenario's day before (synthetic) and
not at all for a recorded scenario (its one recording is the judged day).

The server's own history: --from a traffic recording (the server's RECORD_DIR, or one of its
.ndjson.gz files) or its records database (postgres://..., the DATABASE_URL: campaign_hours).
Each campaign is fitted in clock hours of its own time zone (requests, or --basis cost: spend),
with day-of-week levels beside; server-fit.json holds them all and pacing-mode/<campaign>.json
is the body of POST /pacing/mode for each. A pacer-log scenario without --from is fitted on the
recording it replays.

Options:
  --from PATH|URL       recorded stream file, past sim run directory, server recording
                        directory or DATABASE_URL to fit on
  --basis B             value (default: traffic x expected clicks per unit cost), requests, cost,
                        pctr or clicks; a past run's traffic.json holds requests only
  --train-hours A-B     recorded only: hours fitted on (inclusive), default 0-9
  --judge-hours C-D     recorded only: hours judged on (inclusive), default 10-14
  --search-scale S      synthetic only: run the gain search on traffic and campaigns x S (default 1)
  --no-search           keep the default gains
  --seeds N             recorded only: run every judged row N times, rows of each hour shuffled
                        by seeds seed..seed+N-1 (default 1: the log order)
  --out DIR             default out/tune/<scenario name>
  -h, --help

The multipliers file is what a scenario's hourlyMultipliersFile loads, and its
hourly_multipliers is the field of the server's POST /pacing/mode and PUT /campaigns/:id.
Apply it to campaign c1 of a running server:
  jq -c '{campaign_id:"c1",pacing_mode:"ADAPTIVE",hourly_multipliers}' out/tune/NAME/multipliers.json | curl -sS -X POST http://localhost:8080/pacing/mode -H "authorization: Bearer $API_KEY" -H 'content-type: application/json' --data-binary @-

Exit codes: 0 ok, 2 bad input.`;

function hours(text: string, flag: string): [number, number] {
  const m = /^(\d{1,2})-(\d{1,2})$/.exec(text);
  const a = m ? Number(m[1]) : Number.NaN;
  const b = m ? Number(m[2]) : Number.NaN;
  if (!(a >= 0 && b <= 23 && b >= a))
    throw new UsageError(`${flag} ${text}: expected A-B with 0 <= A <= B <= 23`);
  return [a, b];
}

interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

const BASIS_TOTALS = {
  requests: 'requests',
  cost: 'costMicros',
  pctr: 'pctr',
  clicks: 'clicks',
  // The value weights need traffic (they fall back to it without cost or expected clicks).
  value: 'requests',
} as const;

/**
 * The fit needs some of the basis in the hours it reads; say so here, at the edge, rather than
 * let the fit fail deep inside (its RangeError is a bug guard, not an input check).
 */
function requireFittable(t: HourlyTotals, hours: readonly number[], basis: FitBasis, what: string): void {
  const sum = hours.reduce((a, h) => a + t[BASIS_TOTALS[basis]][h]!, 0);
  if (!(sum > 0))
    throw new UsageError(
      `${what}: no ${basis} in the hours it covers to fit on; pick other hours or another --basis`,
    );
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let scenario: Scenario;
  let basis: FitBasis | null = null;
  let train: [number, number] = [0, 9];
  let judge: [number, number] = [10, 14];
  let scale = 1;
  let search = true;
  let seeds = 1;
  let outDir: string;
  let history: History | null = null;
  let server: ServerHistoryFit | null = null;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: {
        basis: { type: 'string' },
        'train-hours': { type: 'string' },
        'judge-hours': { type: 'string' },
        'search-scale': { type: 'string' },
        'no-search': { type: 'boolean' },
        seeds: { type: 'string' },
        out: { type: 'string' },
        from: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
    if (values.help) {
      io.stdout(`${HELP}\n`);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError('expected exactly one scenario file');
    if (values.basis !== undefined) {
      if (!FIT_BASES.includes(values.basis as FitBasis))
        throw new UsageError(`--basis ${values.basis}: expected one of ${FIT_BASES.join(', ')}`);
      basis = values.basis as FitBasis;
    }
    if (values['train-hours']) train = hours(values['train-hours'], '--train-hours');
    if (values['judge-hours']) judge = hours(values['judge-hours'], '--judge-hours');
    if (judge[0] <= train[1])
      throw new UsageError('--judge-hours must start after --train-hours end (no peeking)');
    if (values['search-scale'] !== undefined) {
      scale = Number(values['search-scale']);
      if (!(scale > 0 && scale <= 1)) throw new UsageError('--search-scale: expected a number in (0, 1]');
    }
    search = !values['no-search'];
    if (values.seeds !== undefined) {
      seeds = Number(values.seeds);
      if (!(Number.isInteger(seeds) && seeds >= 1 && seeds <= 50))
        throw new UsageError('--seeds: expected a whole number from 1 to 50');
    }
    scenario = loadScenario(positionals[0]!);
    outDir = values.out ?? join('out', 'tune', scenario.name);
    // A production replay is tuned on the recording it replays unless told otherwise.
    const from =
      values.from ??
      (scenario.stream.kind === 'pacer-log'
        ? resolve(scenario.sourcePath ? dirname(scenario.sourcePath) : '.', scenario.stream.path)
        : undefined);
    if (from !== undefined && isServerHistory(from)) {
      basis ??= 'requests';
      if (!(SERVER_BASES as readonly string[]).includes(basis))
        throw new UsageError(
          `--basis ${basis}: the server's history holds ${SERVER_BASES.join(' and ')} (spend) per hour`,
        );
      server = await fitFromServer(from, scenario, basis as ServerBasis);
      history = server.history;
    } else if (from !== undefined) {
      history = loadHistory(from, scenario);
      basis ??= history.bases.includes('value') ? 'value' : 'requests';
      if (!history.bases.includes(basis))
        throw new UsageError(
          `--basis ${basis}: ${history.source} holds ${history.bases.join(', ')} per hour only`,
        );
    }
    basis ??= 'value';
    // A recorded backtest whose windows cannot be fitted or judged exits 2 having written nothing.
    if (history === null && scenario.stream.kind === 'recorded')
      checkBacktestWindows(scenario, { basis, train, judge });
    prepareOutDir(outDir);
  } catch (err) {
    if (isBadInput(err)) {
      io.stderr(`tune: ${err.message}\n\n${HELP}\n`);
      return EXIT_BAD_INPUT;
    }
    throw err;
  }
  try {
    const algorithms = scenario.algorithms;
    const extraFiles: [string, string][] = [];
    const sections: { heading: string; rows: EvalRow[] }[] = [];
    const notes: string[] = [];
    let file: MultipliersFile;
    let trials: GainTrial[];
    if (history !== null) {
      const observed = history.totals.requests.flatMap((n, h) => (n > 0 ? [h] : []));
      requireFittable(history.totals, observed, basis, `--from ${history.source}`);
      file = fitFile(history.totals, { basis, source: history.source, seed: history.seed });
      trials = [];
      notes.push(
        history.inSample
          ? `Fitted on ${history.source}, which is the judged day itself (same ${history.seed === null ? 'recording' : 'scenario, seed and date'}): in-sample, the fit has seen the hours it is judged on.`
          : `Fitted on ${history.source}, another stream than the judged day's.`,
      );
      if (scenario.stream.kind === 'synthetic' && search) {
        const searchWorld = buildWorld(scaledScenario(scenario, scale), scenario.seed + 1);
        const found = await searchGains(searchWorld, file.hourlyMultipliers);
        file = { ...file, gains: found.best };
        trials = found.trials;
        notes.push(
          `Gain search on the scenario's stream drawn with seed ${scenario.seed + 1}${scale === 1 ? '' : `, traffic and campaigns x ${scale}`}.`,
        );
      } else {
        notes.push(
          scenario.stream.kind === 'recorded'
            ? 'No gain search: a recorded scenario has one day, the judged one.'
            : 'No gain search (--no-search).',
        );
      }
      sections.push({
        heading: `Judged: ${scenario.name}, seed ${scenario.seed}`,
        rows: await evaluate(buildWorld(scenario), algorithms, file),
      });
    } else if (scenario.stream.kind === 'synthetic') {
      const historyWorld = buildWorld(scenario, scenario.seed + 1);
      const searchWorld =
        scale === 1 ? historyWorld : buildWorld(scaledScenario(scenario, scale), scenario.seed + 1);
      ({ file, trials } = await tuneOn(historyWorld, {
        basis,
        source: `${basename(positionals(argv))} stream, seed ${scenario.seed + 1} (the day before)`,
        search,
        searchWorld,
      }));
      notes.push(
        `Fitted on the scenario's stream drawn with seed ${scenario.seed + 1}; judged on seed ${scenario.seed}.`,
        scale === 1
          ? 'Gain search on the full history day.'
          : `Gain search on the history day with traffic and campaigns x ${scale}.`,
      );
      sections.push({
        heading: `Judged: ${scenario.name}, seed ${scenario.seed}`,
        rows: await evaluate(buildWorld(scenario), algorithms, file),
      });
    } else {
      const bt = await recordedBacktest(scenario, { basis, train, judge, search, seeds });
      file = bt.file;
      trials = bt.trials;
      notes.push(...bt.notes);
      sections.push(...bt.sections);
      extraFiles.push(['judged-window.multipliers.json', formatMultipliersFile(bt.forecast)]);
    }
    if (server !== null) {
      writeServerFits(outDir, server);
      notes.push(
        `Per campaign (clock hours of its own time zone): ${server.fits.length} fit(s) in server-fit.json, and the POST /pacing/mode body of each in pacing-mode/<campaign>.json.`,
      );
    }
    for (const [name, text] of extraFiles) writeFileSync(join(outDir, name), text);
    const mPath = join(outDir, 'multipliers.json');
    writeFileSync(mPath, formatMultipliersFile(file));
    const report = { title: `Tune: ${scenario.name}`, notes, file, trials, sections };
    writeFileSync(join(outDir, 'report.md'), tuneReportMarkdown(report));
    writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
    io.stdout(`tune: wrote ${mPath}, ${join(outDir, 'report.md')} and report.json\n`);
    return EXIT_OK;
  } catch (err) {
    if (isBadInput(err)) {
      io.stderr(`tune: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    throw err;
  }
}

/** Each campaign's fit, and the exact body of POST /pacing/mode that applies it. */
function writeServerFits(outDir: string, server: ServerHistoryFit): void {
  writeFileSync(
    join(outDir, 'server-fit.json'),
    `${JSON.stringify({ source: server.history.source, campaigns: server.fits }, null, 2)}\n`,
  );
  const dir = join(outDir, 'pacing-mode');
  mkdirSync(dir, { recursive: true });
  // Campaign ids are [A-Za-z0-9._:-], starting with a letter or digit: safe as file names.
  for (const f of server.fits) {
    // The database's ids passed the server's rule; a file name is checked again all the same.
    if (!CAMPAIGN_ID_PATTERN.test(f.campaignId)) continue;
    writeFileSync(join(dir, `${f.campaignId}.json`), `${JSON.stringify(f.pacingModeRequest)}\n`);
  }
}

function positionals(argv: readonly string[]): string {
  return argv.find((a) => !a.startsWith('-') && a.endsWith('.yaml')) ?? 'scenario';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  }).then((code) => {
    process.exitCode = code;
  });
}
