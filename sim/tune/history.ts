import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CodedError, HOURS_PER_DAY } from '../../core/index';
import type { RecordedStreamSpec, Scenario } from '../scenario';
import { recordedStream } from '../sources/recorded';
import { type HourlyTotals, collectTotals, emptyTotals, hourOfDay } from './fit';
import type { FitBasis } from './multipliersFile';

/** `--from` names something the tuner cannot fit on; the message says what it expected. */
export class HistoryError extends CodedError {
  constructor(path: string, message: string) {
    super('TUNE_ERR_BAD_HISTORY', `--from ${path}: ${message}`);
    this.name = 'HistoryError';
  }
}

/** Hourly totals read from outside the scenario, and what to say about them in the file and report. */
export interface History {
  readonly totals: HourlyTotals;
  readonly source: string;
  /** Seed of the past run, or null for a recording. */
  readonly seed: number | null;
  /** Bases the history holds (a past run has requests only). */
  readonly bases: readonly FitBasis[];
  /** True when the history is the scenario's own judged day: its recording, or a run of it with its seed. */
  readonly inSample: boolean;
}

export const TRAFFIC_FILE = 'traffic.json';

/** The column layout of ../shared/data/README.md: click, payprice (fen), pctr, hour; tab-separated. */
export const IPINYOU_SPEC: Omit<RecordedStreamSpec, 'path'> = Object.freeze({
  kind: 'recorded',
  delimiter: '\t',
  header: false,
  priceMicrosPerUnit: 10_000,
  order: 'log',
  columns: Object.freeze({ click: 0, marketPrice: 1, pctr: 2, hour: 3 }),
});

function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('latin1', 0, n).split('\n')[0]!.replace(/\r$/, '');
  } finally {
    closeSync(fd);
  }
}

/** True when the first row reads as iPinYou: 0/1, a whole price, a probability, an hour 0-23. */
export function looksLikeIpinyou(line: string): boolean {
  const f = line.split('\t');
  if (f.length !== 4) return false;
  const [click, price, pctr, hour] = f.map(Number) as [number, number, number, number];
  return (
    (click === 0 || click === 1) &&
    Number.isInteger(price) &&
    price >= 0 &&
    pctr >= 0 &&
    pctr <= 1 &&
    Number.isInteger(hour) &&
    hour >= 0 &&
    hour < HOURS_PER_DAY
  );
}

function isCounts(x: unknown, length: number): x is number[] {
  return (
    Array.isArray(x) &&
    x.length === length &&
    x.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)
  );
}

/** Requests per hour of a past `npm run sim` run, folded onto the hours of the day. */
function fromRunDir(dir: string, shown: string, scenario: Scenario): History {
  const path = join(dir, TRAFFIC_FILE);
  if (!existsSync(path))
    throw new HistoryError(
      shown,
      `a directory must be the output of a sim run (npm run sim -- <scenario> --out DIR), holding ${TRAFFIC_FILE}; there is none`,
    );
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new HistoryError(shown, `${TRAFFIC_FILE} is not valid JSON: ${(err as Error).message}`);
  }
  const days = data.days;
  if (!(typeof days === 'number' && Number.isInteger(days) && days >= 1))
    throw new HistoryError(shown, `${TRAFFIC_FILE}: days must be a whole number >= 1`);
  if (!isCounts(data.requestsPerHour, days * HOURS_PER_DAY))
    throw new HistoryError(
      shown,
      `${TRAFFIC_FILE}: requestsPerHour must be ${days * HOURS_PER_DAY} counts >= 0 (24 per day)`,
    );
  const totals = emptyTotals();
  data.requestsPerHour.forEach((n, h) => {
    totals.requests[h % HOURS_PER_DAY] = totals.requests[h % HOURS_PER_DAY]! + n;
  });
  const seed = typeof data.seed === 'number' ? data.seed : null;
  return {
    totals,
    source: `past sim run ${shown} (${String(data.scenario)}, seed ${seed}, ${days} day(s))`,
    seed,
    bases: ['requests'],
    inSample:
      data.scenario === scenario.name && seed === scenario.seed && data.startDate === scenario.startDate,
  };
}

/** A CSV/TSV recording read through the recorded source: the scenario's mapping, else iPinYou's. */
function fromRecording(path: string, shown: string, scenario: Scenario): History {
  let spec: RecordedStreamSpec;
  let how: string;
  let own = false;
  if (scenario.stream.kind === 'recorded') {
    own = resolve(scenario.sourcePath ? dirname(scenario.sourcePath) : '.', scenario.stream.path) === path;
    spec = { ...scenario.stream, path };
    how = "the scenario's column mapping";
  } else if (looksLikeIpinyou(firstLine(path))) {
    spec = { ...IPINYOU_SPEC, path };
    how = 'the iPinYou preset';
  } else {
    throw new HistoryError(
      shown,
      'not in the iPinYou layout (click, payprice, pctr, hour; tab-separated), and the scenario is synthetic so it gives no column mapping; tune a recorded scenario whose stream.columns describe the file',
    );
  }
  const startMs = Date.parse(`${scenario.startDate}T00:00:00Z`);
  const stream = recordedStream(spec, path, startMs, null);
  const totals = collectTotals(stream.open(scenario.seed), hourOfDay(startMs));
  if (!totals.requests.some((n) => n > 0)) throw new HistoryError(shown, 'the recording has no rows');
  return {
    totals,
    source: `recording ${shown} (read with ${how})`,
    seed: null,
    bases: ['requests', 'cost', 'pctr', 'clicks', 'value'],
    inSample: own,
  };
}

/** Hourly totals from `--from`: a past sim run's directory or a recorded stream file. */
export function loadHistory(from: string, scenario: Scenario): History {
  const abs = resolve(from);
  let isDir: boolean;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new HistoryError(
      from,
      'no such file or directory; give a recorded stream (CSV/TSV) or the output directory of a sim run',
    );
  }
  return isDir ? fromRunDir(abs, from, scenario) : fromRecording(abs, from, scenario);
}
