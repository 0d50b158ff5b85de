import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EXIT_BAD_INPUT, EXIT_BELOW_THRESHOLDS, EXIT_OK, main } from '../../sim/cli';
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
});
