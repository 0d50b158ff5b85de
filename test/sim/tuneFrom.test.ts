import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main as simMain } from '../../cli/sim';
import { main as tuneMain } from '../../cli/tune';
import { makeCampaign } from '../../core/index';
import { runScenario } from '../../sim/run';
import { ScenarioError, loadScenario } from '../../sim/scenario';
import { parseMultipliersFile } from '../../sim/tune/multipliersFile';
import { buildWorld } from '../../sim/world';
import { bearer, createCampaign, testApp } from '../server/http.harness';
import { captureIo } from './fixtures';

const dir = mkdtempSync(join(tmpdir(), 'tune-from-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STREAM = `stream:
  kind: synthetic
  meanQps: 0.5
  surges: [{ from: "18:00", to: "20:00", multiplier: 4 }]
  marketPrice: { medianCpmMicros: 800000, sigma: 0.5 }`;

const GENERATE =
  'count: 3, budgetMicros: { min: 1000000, max: 2000000 }, bidCpmMicros: { min: 900000, max: 1500000 }, fullPassToBudget: { min: 5, max: 8 }';

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const small = write(
  'small.yaml',
  `name: tune-from\nseed: 11\nalgorithms: [EVEN, ADAPTIVE]\ninstances: { count: 1, syncIntervalMs: 10000 }\n${STREAM}\ncampaigns:\n  generate: { ${GENERATE} }\n`,
);

/** A scenario beside `small.yaml` whose campaigns take their multipliers from `file`. */
function referencing(name: string, campaigns: string): string {
  return write(
    name,
    `name: ${name.replace('.yaml', '')}\nseed: 11\nalgorithms: [ADAPTIVE]\ninstances: { count: 1, syncIntervalMs: 10000 }\n${STREAM}\ncampaigns:\n${campaigns}\n`,
  );
}

describe('tune -> multipliers file -> scenario -> ADAPTIVE run', () => {
  it('round-trips the exact multipliers into the campaigns and the target curve', async () => {
    const t = captureIo();
    expect(await tuneMain([small, '--no-search', '--out', join(dir, 'tuned')], t.io)).toBe(0);
    const text = readFileSync(join(dir, 'tuned', 'multipliers.json'), 'utf8');
    const tuned = parseMultipliersFile(text, 'multipliers.json').hourlyMultipliers;
    // Fitted on seed 12 with a 4x surge at 18-20: not flat.
    expect(tuned[18]! / tuned[16]!).toBeGreaterThan(2);

    const gen = loadScenario(
      referencing('gen.yaml', `  generate: { ${GENERATE}, hourlyMultipliersFile: tuned/multipliers.json }`),
    );
    const list = loadScenario(
      referencing(
        'list.yaml',
        '  list:\n    - { id: a, dailyBudgetMicros: 1500000, bidCpmMicros: 1200000, participation: 0.5, pacingMode: ADAPTIVE, hourlyMultipliersFile: tuned/multipliers.json }',
      ),
    );
    for (const s of [gen, list])
      for (const c of buildWorld(s).campaigns) expect(c.hourlyMultipliers).toEqual(tuned);
    expect(() =>
      makeCampaign({ id: 'a', dailyBudgetMicros: 1, pacingMode: 'ADAPTIVE', hourlyMultipliers: tuned }),
    ).not.toThrow();

    // The same campaigns without the file take the stream's expected traffic: another curve.
    const plain = loadScenario(referencing('plain.yaml', `  generate: { ${GENERATE} }`));
    const withFile = (await runScenario(gen, { threads: 1 })).series.algorithms[0]!.targetShare;
    const without = (await runScenario(plain, { threads: 1 })).series.algorithms[0]!.targetShare;
    expect(withFile).toHaveLength(without.length);
    expect(withFile).not.toEqual(without);
  }, 60_000);

  it('is applied by the server as its POST /pacing/mode body (hourly_multipliers)', async () => {
    const text = readFileSync(join(dir, 'tuned', 'multipliers.json'), 'utf8');
    // What the --help jq line builds from the file.
    const { hourly_multipliers } = JSON.parse(text);
    const app = await testApp();
    try {
      await createCampaign(app, 'c1');
      const res = await app.json<Record<string, unknown>>({
        method: 'POST',
        url: '/pacing/mode',
        payload: { campaign_id: 'c1', pacing_mode: 'ADAPTIVE', hourly_multipliers },
        headers: bearer,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ pacing_mode: 'ADAPTIVE', hourly_multipliers });
    } finally {
      await app.close();
    }
  });
});

describe('scenario hourlyMultipliersFile errors', () => {
  const problems = (path: string) => {
    try {
      loadScenario(path);
    } catch (err) {
      expect(err).toBeInstanceOf(ScenarioError);
      return (err as ScenarioError).problems.join('\n');
    }
    throw new Error(`${path} loaded`);
  };
  const listed = (extra: string) =>
    `  list:\n    - { id: a, dailyBudgetMicros: 1500000, bidCpmMicros: 1200000, participation: 0.5, ${extra} }`;

  it('names the field and the file when it is missing', () => {
    expect(problems(referencing('missing.yaml', listed('hourlyMultipliersFile: nope.json')))).toMatch(
      /^\/campaigns\/list\/0\/hourlyMultipliersFile: .*nope\.json: cannot read the file/,
    );
  });

  it('names the bad hour of a file with a negative multiplier', () => {
    const bad = Array.from({ length: 24 }, (_, h) => (h === 5 ? -1 : 1));
    write('neg.json', JSON.stringify({ hourly_multipliers: bad }));
    expect(
      problems(referencing('neg.yaml', `  generate: { ${GENERATE}, hourlyMultipliersFile: neg.json }`)),
    ).toMatch(
      /^\/campaigns\/generate\/hourlyMultipliersFile: .*neg\.json: \/hourly_multipliers\/5: must be >= 0/,
    );
  });

  it('refuses all-zero, 23 numbers, and a file given with inline multipliers', () => {
    write('zero.json', JSON.stringify({ hourlyMultipliers: new Array(24).fill(0) }));
    write('short.json', JSON.stringify({ hourlyMultipliers: new Array(23).fill(1) }));
    expect(problems(referencing('zero.yaml', listed('hourlyMultipliersFile: zero.json')))).toMatch(
      /hourlyMultipliersFile: .*at least one hour must be above 0/,
    );
    expect(problems(referencing('short.yaml', listed('hourlyMultipliersFile: short.json')))).toMatch(
      /hourlyMultipliersFile: .*\/hourlyMultipliers: must NOT have fewer than 24 items/,
    );
    expect(
      problems(
        referencing(
          'both.yaml',
          listed(`hourlyMultipliers: [${new Array(24).fill(1)}], hourlyMultipliersFile: zero.json`),
        ),
      ),
    ).toMatch(
      /\/campaigns\/list\/0\/hourlyMultipliersFile: give hourlyMultipliers or hourlyMultipliersFile, not both/,
    );
    expect(
      problems(
        referencing(
          'flat.yaml',
          `  generate: { ${GENERATE}, adaptiveMultipliers: flat, hourlyMultipliersFile: zero.json }`,
        ),
      ),
    ).toMatch(/not both/);
  });
});

describe('tune --from', () => {
  const multipliers = (out: string) =>
    JSON.parse(readFileSync(join(dir, out, 'multipliers.json'), 'utf8')) as {
      hourly_multipliers: number[];
      source: string;
      fittedOn: { seed: number | null; requests: number; hoursObserved: number[] };
    };

  it('fits an iPinYou recording hour by hour (the scenario is synthetic)', async () => {
    const rows: string[] = [];
    // Hours 0-3 with 10, 20, 30, 40 rows: shares 0.4, 0.8, 1.2, 1.6 of the mean of the observed hours.
    for (let h = 0; h < 4; h++) for (let i = 0; i < 10 * (h + 1); i++) rows.push(`0\t50\t0.001\t${h}`);
    const rec = write('rec.tsv', `${rows.join('\n')}\n`);
    const t = captureIo();
    expect(await tuneMain([small, '--from', rec, '--no-search', '--out', join(dir, 'rec')], t.io)).toBe(0);
    const m = multipliers('rec');
    expect(m.hourly_multipliers.slice(0, 4)).toEqual([0.4, 0.8, 1.2, 1.6]);
    expect(m.fittedOn).toMatchObject({ seed: null, requests: 100, hoursObserved: [0, 1, 2, 3] });
    expect(m.source).toMatch(/iPinYou preset/);
    expect(readFileSync(join(dir, 'rec', 'report.md'), 'utf8')).toMatch(
      /another stream than the judged day's/,
    );
  }, 30_000);

  it('fits the requests per hour of a past sim run, byte-identical for one run', async () => {
    const s = captureIo();
    expect(await simMain([small, '--out', join(dir, 'run'), '--threads', '1'], s.io)).toBe(0);
    const traffic = JSON.parse(readFileSync(join(dir, 'run', 'traffic.json'), 'utf8'));
    expect(traffic.seed).toBe(11);
    const a = captureIo();
    const b = captureIo();
    expect(
      await tuneMain([small, '--from', join(dir, 'run'), '--no-search', '--out', join(dir, 'fa')], a.io),
    ).toBe(0);
    expect(
      await tuneMain([small, '--from', join(dir, 'run'), '--no-search', '--out', join(dir, 'fb')], b.io),
    ).toBe(0);
    const fa = readFileSync(join(dir, 'fa', 'multipliers.json'));
    expect(fa.equals(readFileSync(join(dir, 'fb', 'multipliers.json')))).toBe(true);
    const m = multipliers('fa');
    const total = traffic.requestsPerHour.reduce((x: number, y: number) => x + y, 0);
    expect(m.fittedOn).toMatchObject({ seed: 11, requests: total });
    const peak = traffic.requestsPerHour.indexOf(Math.max(...traffic.requestsPerHour));
    expect(m.hourly_multipliers.indexOf(Math.max(...m.hourly_multipliers))).toBe(peak);
    // A run of the judged scenario with its own seed is the judged day: the report says so.
    expect(readFileSync(join(dir, 'fa', 'report.md'), 'utf8')).toMatch(
      /is the judged day itself .*in-sample/,
    );
    expect(await simMain([small, '--seed', '12', '--out', join(dir, 'run12'), '--threads', '1'], s.io)).toBe(
      0,
    );
    expect(
      await tuneMain([small, '--from', join(dir, 'run12'), '--no-search', '--out', join(dir, 'f12')], b.io),
    ).toBe(0);
    expect(readFileSync(join(dir, 'f12', 'report.md'), 'utf8')).toMatch(
      /another stream than the judged day's/,
    );
    // A run holds requests per hour only.
    const c = captureIo();
    expect(await tuneMain([small, '--from', join(dir, 'run'), '--basis', 'cost'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/--basis cost: past sim run .* holds requests per hour only/);
  }, 60_000);

  it.each([
    ['a missing path', 'no-such-thing', /--from .*no-such-thing: no such file or directory/],
    [
      'a directory that is no sim run',
      'tuned',
      /--from .*tuned: a directory must be the output of a sim run .*traffic\.json/,
    ],
    [
      'a CSV the synthetic scenario cannot map',
      'other.csv',
      /--from .*other\.csv: not in the iPinYou layout/,
    ],
  ])('exits 2 on %s and says what it expected', async (_name, from, message) => {
    writeFileSync(join(dir, 'other.csv'), 'price,hour\n12,3\n');
    const t = captureIo();
    expect(await tuneMain([small, '--from', join(dir, from), '--out', join(dir, 'never')], t.io)).toBe(2);
    expect(t.err.join('')).toMatch(message);
  });
});
