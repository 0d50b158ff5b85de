import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EXIT_BAD_INPUT, EXIT_BELOW_THRESHOLDS, EXIT_OK, main } from '../../cli/sim';
import { captureIo } from './fixtures';

const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));

function scenarioFile(name: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    stringify({
      name,
      seed: 11,
      algorithms: ['EVEN', 'ASAP'],
      stream: { kind: 'synthetic', meanQps: 2, marketPrice: { medianCpmMicros: 800000, sigma: 0.5 } },
      campaigns: {
        generate: {
          count: 4,
          budgetMicros: { min: 100000, max: 300000 },
          bidCpmMicros: { min: 900000, max: 2000000 },
          fullPassToBudget: { min: 12, max: 20 },
        },
      },
      ...extra,
    }),
  );
  return path;
}

describe('sim CLI', () => {
  it('prints help and exits 0', async () => {
    const t = captureIo();
    expect(await main(['--help'], t.io)).toBe(EXIT_OK);
    expect(t.out.join('')).toMatch(/Usage: npm run sim -- <scenario.yaml>/);
  });

  it('writes report and summary, quietly when not on a terminal, byte-identical for one seed', async () => {
    const path = scenarioFile('twice');
    const a = captureIo();
    const b = captureIo();
    const p = captureIo();
    expect(await main([path, '--out', join(dir, 'a'), '--threads', '1'], a.io)).toBe(EXIT_OK);
    expect(await main([path, '--out', join(dir, 'b'), '--threads', '1'], b.io)).toBe(EXIT_OK);
    // Worker threads change nothing in the output.
    expect(await main([path, '--out', join(dir, 'p'), '--threads', '2'], p.io)).toBe(EXIT_OK);
    expect(a.err.join('')).toBe('');
    for (const f of ['report.html', 'summary.json', 'campaign-days.json', 'traffic.json']) {
      expect(readFileSync(join(dir, 'a', f)).equals(readFileSync(join(dir, 'b', f)))).toBe(true);
      expect(readFileSync(join(dir, 'a', f)).equals(readFileSync(join(dir, 'p', f)))).toBe(true);
    }
    const c = captureIo();
    expect(await main([path, '--seed', '12', '--out', join(dir, 'c')], c.io)).toBe(EXIT_OK);
    expect(readFileSync(join(dir, 'c', 'summary.json'), 'utf8')).not.toBe(
      readFileSync(join(dir, 'a', 'summary.json'), 'utf8'),
    );
    expect(JSON.parse(readFileSync(join(dir, 'c', 'summary.json'), 'utf8')).scenario.seed).toBe(12);
    // traffic.json: the stream's requests per hour and each algorithm's spend per hour.
    const traffic = JSON.parse(readFileSync(join(dir, 'a', 'traffic.json'), 'utf8'));
    const summary = JSON.parse(readFileSync(join(dir, 'a', 'summary.json'), 'utf8'));
    expect(traffic.requestsPerHour).toHaveLength(24 * summary.scenario.days);
    expect(traffic.requestsPerHour.some((n: number) => n > 0)).toBe(true);
    expect(traffic.algorithms.map((a: { algorithm: string }) => a.algorithm)).toEqual(
      summary.algorithms.map((a: { algorithm: string }) => a.algorithm),
    );
    for (const a of traffic.algorithms) expect(a.spendPerHourMicros).toHaveLength(24 * summary.scenario.days);
  });

  it('runs only the algorithms asked for', async () => {
    const t = captureIo();
    expect(await main([scenarioFile('one'), '--algorithms', 'asap', '--out', join(dir, 'one')], t.io)).toBe(
      EXIT_OK,
    );
    const s = JSON.parse(readFileSync(join(dir, 'one', 'summary.json'), 'utf8'));
    expect(s.algorithms.map((a: { algorithm: string }) => a.algorithm)).toEqual(['ASAP']);
  });

  it('exits 1 naming the scores below the thresholds, with seed and scenario', async () => {
    const path = scenarioFile('strict', { thresholds: { minAccuracy: { ASAP: 0.99 } } });
    const t = captureIo();
    expect(await main([path, '--out', join(dir, 'strict')], t.io)).toBe(EXIT_BELOW_THRESHOLDS);
    expect(t.err.join('')).toMatch(/seed 11/);
    expect(t.err.join('')).toMatch(/ASAP: pacing accuracy 0\.\d+ < 0\.99/);
  });

  it('exits 2 on bad input with the path of the bad field', async () => {
    const bad = scenarioFile('bad', {
      stream: { kind: 'synthetic', meanQps: 0, marketPrice: { medianCpmMicros: 1, sigma: 0 } },
    });
    const t = captureIo();
    expect(await main([bad], t.io)).toBe(EXIT_BAD_INPUT);
    expect(t.err.join('')).toMatch(/\/stream\/meanQps: must be > 0/);
    expect(await main([bad, '--algorithms', 'FAST'], captureIo().io)).toBe(EXIT_BAD_INPUT);
    expect(await main([bad, '--seed', 'x'], captureIo().io)).toBe(EXIT_BAD_INPUT);
    expect(await main([bad, '--threads', '0'], captureIo().io)).toBe(EXIT_BAD_INPUT);
    expect(await main([], captureIo().io)).toBe(EXIT_BAD_INPUT);
    expect(await main([join(dir, 'missing.yaml')], captureIo().io)).toBe(EXIT_BAD_INPUT);
  });

  describe('refuses at once, exit 2, what would fail or run for hours later', () => {
    const market = { medianCpmMicros: 800000, sigma: 0.5 };
    const refused = async (args: string[], message: RegExp) => {
      const t = captureIo();
      expect(await main(args, t.io)).toBe(EXIT_BAD_INPUT);
      expect(t.err.join('')).toMatch(message);
      // Refused before the run: no score table was printed.
      expect(t.out.join('')).toBe('');
    };

    it('a campaign hourly multiplier above the core campaign rule (was: exit 3 in a worker)', async () => {
      const hours = new Array(24).fill(1);
      hours[5] = 1001;
      const path = scenarioFile('mult', {
        campaigns: {
          list: [
            {
              id: 'c1',
              dailyBudgetMicros: 100000,
              bidCpmMicros: 900000,
              participation: 0.5,
              pacingMode: 'ADAPTIVE',
              hourlyMultipliers: hours,
            },
          ],
        },
      });
      await refused(
        [path, '--threads', '2', '--out', join(dir, 'mult')],
        /\/campaigns\/list\/0\/hourlyMultipliers\/5: must be <= 1000/,
      );
    });

    it('a market price median of 1e300, and a price cap below the median', async () => {
      const huge = scenarioFile('huge-price', {
        stream: { kind: 'synthetic', meanQps: 2, marketPrice: { medianCpmMicros: 1e300, sigma: 0.5 } },
      });
      await refused(
        [huge, '--out', join(dir, 'huge')],
        /\/stream\/marketPrice\/medianCpmMicros: must be <= 1000000000000000/,
      );
      const capped = scenarioFile('capped', {
        stream: { kind: 'synthetic', meanQps: 2, marketPrice: { ...market, maxCpmMicros: 700000 } },
      });
      await refused(
        [capped, '--out', join(dir, 'capped')],
        /\/stream\/marketPrice\/maxCpmMicros: must be >= medianCpmMicros \(800000\)/,
      );
    });

    it('a stream at the schema maximum rate, with an estimate of the work (was: hours of silence)', async () => {
      const fast = scenarioFile('fast', {
        stream: { kind: 'synthetic', meanQps: 1000000, marketPrice: market },
      });
      await refused(
        [fast, '--out', join(dir, 'fast')],
        /\/stream\/meanQps: the stream would draw about 86,400M bid requests per algorithm run, more than the limit of 1000M/,
      );
    }, 30_000);

    it('a device, and a file too large to be a scenario, before reading it (was: 1.8 GB read from /dev/zero)', async () => {
      await refused(
        ['/dev/zero'],
        /\/dev\/zero: invalid scenario\n {2}- cannot read the file: not a regular file/,
      );
      const big = join(dir, 'big.yaml');
      writeFileSync(big, '');
      truncateSync(big, 5 * 1024 * 1024);
      await refused(
        [big],
        /big\.yaml: invalid scenario\n {2}- cannot read the file: larger than 4194304 bytes/,
      );
    }, 30_000);

    it('an --out that cannot be written, before the run (was: exit 3 after the whole run)', async () => {
      const file = join(dir, 'plain-file');
      writeFileSync(file, 'x');
      await refused(
        [scenarioFile('out'), '--out', join(file, 'run')],
        /--out .*plain-file\/run: cannot write there/,
      );
    });
  });
});
