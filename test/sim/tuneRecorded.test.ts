import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main as tuneMain } from '../../cli/tune';
import { parseMultipliersFile } from '../../sim/tune/multipliersFile';
import { stretchMultipliers } from '../../sim/tune/recordedBacktest';
import type { EvalRow } from '../../sim/tune/tune';
import { captureIo } from './fixtures';

const dir = mkdtempSync(join(tmpdir(), 'tune-rec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A small recording (iPinYou layout: click, payprice fen, pctr, hour) with a traffic shape that is
 * far from flat: hours 0-2 have 100, 200 and 300 rows, hours 3-5 have 60, 600 and 60.
 */
function recording(): string {
  const perHour = [100, 200, 300, 60, 600, 60];
  const lines: string[] = [];
  let k = 0;
  perHour.forEach((n, h) => {
    for (let i = 0; i < n; i++, k++) {
      const pctr = ((k * 7919) % 1000) / 1e5;
      lines.push(`${pctr > 0.0097 ? 1 : 0}\t${20 + ((k * 31) % 200)}\t${pctr.toFixed(6)}\t${h}`);
    }
  });
  const path = join(dir, 'rec.tsv');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const scenario = (() => {
  recording();
  const path = join(dir, 'bt.yaml');
  writeFileSync(
    path,
    'name: bt\nseed: 5\nalgorithms: [EVEN]\ninstances: { count: 1, syncIntervalMs: 10000 }\nstream: { kind: recorded, preset: ipinyou, path: rec.tsv }\ncampaigns:\n  list:\n    - { id: half, dailyBudgetMicros: 600000, bidCpmMicros: 3000000, participation: 1 }\n',
  );
  return path;
})();

describe('tuning on a recorded stream', () => {
  it('resamples clock-hour multipliers onto a stretched window', () => {
    const clock = Array.from({ length: 24 }, (_, h) => (h < 3 ? h + 1 : 1));
    const s = stretchMultipliers(clock, 0, 2);
    // Three clock hours over 24 stretched ones: 8 stretched hours each.
    expect(s.slice(0, 8)).toEqual(new Array(8).fill(1));
    expect(s.slice(8, 16)).toEqual(new Array(8).fill(2));
    expect(s.slice(16)).toEqual(new Array(8).fill(3));
  });

  it('writes clock-hour multipliers fitted on the training hours, and judges "before" on them, not on the judged hours', async () => {
    const io = captureIo();
    const out = join(dir, 'tuned');
    const code = await tuneMain(
      [
        scenario,
        '--train-hours',
        '0-2',
        '--judge-hours',
        '3-5',
        '--no-search',
        '--basis',
        'requests',
        '--out',
        out,
      ],
      io.io,
    );
    expect(code).toBe(0);
    const file = parseMultipliersFile(
      readFileSync(join(out, 'multipliers.json'), 'utf8'),
      'multipliers.json',
    );
    // Hours 0-2 carry 100:200:300 rows; the 21 unseen hours take their mean (200): clock hours, not
    // the training window stretched over a day.
    expect(file.fittedOn.hoursObserved).toEqual([0, 1, 2]);
    const m = file.hourlyMultipliers;
    expect(m[1]! / m[0]!).toBeCloseTo(2, 3);
    expect(m[2]! / m[0]!).toBeCloseTo(3, 3);
    expect(m[12]! / m[1]!).toBeCloseTo(1, 3);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
      sections: { rows: EvalRow[] }[];
    };
    const rows = report.sections[0]!.rows;
    const row = (prefix: string) => rows.find((r) => r.label.startsWith(prefix))!;
    // The judged hours (60:600:60 rows) were never seen: ADAPTIVE before tuning paces them flat,
    // exactly as EVEN does, instead of with the judged window's own traffic.
    expect(row('ADAPTIVE before tuning').summary.rmseNormalisedMean).toBe(
      row('EVEN, value-aware').summary.rmseNormalisedMean,
    );
    expect(row('LINEAR bidding')).toBeDefined();
    expect(row('EVEN, coin flip, classic breaker')).toBeDefined();
  }, 120_000);

  it('refuses an empty judged window with exit 2, writing nothing', async () => {
    const io = captureIo();
    const out = join(dir, 'empty');
    const code = await tuneMain(
      [scenario, '--train-hours', '0-2', '--judge-hours', '10-12', '--out', out],
      io.io,
    );
    expect(code).toBe(2);
    expect(io.err.join('')).toMatch(
      /--judge-hours 10-12: the recording has no rows in those hours \(it has rows in hours 0, 1, 2, 3, 4, 5\)/,
    );
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
