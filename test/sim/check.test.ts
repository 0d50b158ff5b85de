import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/simCheck';
import {
  type Baseline,
  BaselineError,
  DEFAULT_TOLERANCES,
  type ScoreRow,
  compareToBaseline,
  describeRegression,
  formatBaseline,
  parseBaseline,
} from '../../sim/check/baseline';
import { BASELINE_PATH, CHECK_DIR, suitePaths } from '../../sim/check/suite';

const row: ScoreRow = {
  accuracyMeanConstrained: 0.99,
  utilisationMeanConstrained: 0.98,
  rmseNormalisedMean: 0.7,
  maxDeviationMean: 0.01,
  overspentCampaignDays: 0,
  maxOverspendShare: 0,
  spendLostMicros: 0,
};
const base: Baseline = { tolerances: DEFAULT_TOLERANCES, scenarios: { s: { EVEN: row } } };

describe('compareToBaseline', () => {
  it('passes float noise inside the tolerance and improvements of any size', () => {
    const now = { s: { EVEN: { ...row, accuracyMeanConstrained: 0.9895, rmseNormalisedMean: 0.2 } } };
    expect(compareToBaseline(base, now)).toEqual([]);
  });

  it('names scenario, algorithm, score, baseline and value when accuracy drops or overspend rises', () => {
    const now = { s: { EVEN: { ...row, accuracyMeanConstrained: 0.98, overspentCampaignDays: 1 } } };
    const r = compareToBaseline(base, now);
    expect(r.map((x) => x.score)).toEqual(['accuracyMeanConstrained', 'overspentCampaignDays']);
    expect(describeRegression(r[0]!)).toBe(
      's EVEN accuracyMeanConstrained dropped: baseline 0.99, now 0.98 (limit 0.989)',
    );
    expect(describeRegression(r[1]!)).toContain('overspentCampaignDays rose: baseline 0, now 1');
  });

  it('applies the relative tolerance to pacing error', () => {
    expect(compareToBaseline(base, { s: { EVEN: { ...row, rmseNormalisedMean: 0.718 } } })).toEqual([]);
    expect(compareToBaseline(base, { s: { EVEN: { ...row, rmseNormalisedMean: 0.72 } } })).toHaveLength(1);
  });

  it('reports a scenario or algorithm missing on either side', () => {
    expect(compareToBaseline(base, {})[0]!.score).toBe('missing');
    expect(compareToBaseline(base, { s: { EVEN: row, ADAPTIVE: row } })[0]!.algorithm).toBe('ADAPTIVE');
  });
});

describe('baseline file', () => {
  it('round-trips through its stable format', () => {
    const text = formatBaseline(base);
    expect(formatBaseline(parseBaseline(text, 'x'))).toBe(text);
  });

  it('names the bad field', () => {
    const bad = JSON.parse(formatBaseline(base));
    bad.scenarios.s.EVEN.rmseNormalisedMean = 'high';
    expect(() => parseBaseline(JSON.stringify(bad), 'b.json')).toThrow(
      /b\.json: \/scenarios\/s\/EVEN\/rmseNormalisedMean: must be number/,
    );
    expect(() => parseBaseline('{"tolerances":{"speed":{"abs":1,"rel":0}},"scenarios":{}}', 'b')).toThrow(
      BaselineError,
    );
  });

  it('fills the tolerances a baseline leaves out with the defaults, and compares with them', () => {
    // The old parser checked the defaults but returned the raw file: compareToBaseline then
    // crashed reading tolerances of undefined.
    const b = parseBaseline(JSON.stringify({ scenarios: { s: { EVEN: row } } }), 'b.json');
    expect(b.tolerances).toEqual(DEFAULT_TOLERANCES);
    expect(compareToBaseline(b, { s: { EVEN: row } })).toEqual([]);
    const partial = parseBaseline(
      JSON.stringify({
        tolerances: { spendLostMicros: { abs: 5, rel: 0 } },
        scenarios: { s: { EVEN: row } },
      }),
      'b.json',
    );
    expect(partial.tolerances.spendLostMicros).toEqual({ abs: 5, rel: 0 });
    expect(partial.tolerances.accuracyMeanConstrained).toEqual(DEFAULT_TOLERANCES.accuracyMeanConstrained);
    expect(
      compareToBaseline(partial, { s: { EVEN: { ...row, spendLostMicros: row.spendLostMicros + 5 } } }),
    ).toEqual([]);
  });

  it('refuses a score row without every watched score, an unknown algorithm and a negative tolerance', () => {
    const { rmseNormalisedMean: _, ...short } = row;
    expect(() => parseBaseline(JSON.stringify({ scenarios: { s: { EVEN: short } } }), 'b')).toThrow(
      /b: \/scenarios\/s\/EVEN: must have required property 'rmseNormalisedMean'/,
    );
    expect(() => parseBaseline(JSON.stringify({ scenarios: { s: { FAST: row } } }), 'b')).toThrow(
      /\/scenarios\/s: unknown field "FAST"/,
    );
    expect(() =>
      parseBaseline(
        JSON.stringify({ tolerances: { maxOverspendShare: { abs: -1, rel: 0 } }, scenarios: {} }),
        'b',
      ),
    ).toThrow(/\/tolerances\/maxOverspendShare\/abs: must be >= 0/);
  });

  it('the committed baseline covers every scenario of the suite', () => {
    const b = parseBaseline(readFileSync(BASELINE_PATH, 'utf8'), BASELINE_PATH);
    const names = suitePaths().map((p) => /^name: (.+)$/m.exec(readFileSync(p, 'utf8'))![1]);
    expect(Object.keys(b.scenarios).sort()).toEqual([...names].sort());
  });
});

describe('sim:check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(CHECK_DIR, 'surge.yaml'), join(dir, 'surge.yaml'));
  const baselinePath = join(dir, 'baseline.json');
  const run = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await main(['--scenarios', dir, '--baseline', baselinePath, ...args], {
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
    });
    return { code, out, err };
  };

  it('passes a clean run, fails a perturbed pacing constant naming what regressed', async () => {
    expect((await run('--update')).code).toBe(0);
    const written = readFileSync(baselinePath, 'utf8');
    const clean = await run();
    expect(clean.err).toBe('');
    expect(clean.code).toBe(0);
    expect(readFileSync(baselinePath, 'utf8')).toBe(written);
    // A controller that closes its gap over 200 ticks instead of 10 lags the curve.
    const perturbed = await run('--pacer', 'catchUpTicks=200');
    expect(perturbed.code).toBe(1);
    expect(perturbed.err).toMatch(
      /REGRESSION check-surge EVEN accuracyMeanConstrained dropped: baseline 0\.\d+, now 0\.\d+/,
    );
  }, 60_000);

  it('exits 2 on bad input', async () => {
    expect((await run('--pacer', 'speed=3')).code).toBe(2);
    expect((await run('--baseline', join(dir, 'none.json'))).code).toBe(2);
  });
});
