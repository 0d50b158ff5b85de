import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { curveFromWeights, makeCampaign } from '../../core/index';
import { parseScenario } from '../../sim/scenario';
import { collectTotals, emptyTotals, fitMultipliers, hourOfDay } from '../../sim/tune/fit';
import {
  MultipliersFileError,
  formatMultipliersFile,
  pacingModeRequest,
  parseMultipliersFile,
} from '../../sim/tune/multipliersFile';
import { stretchedWindow } from '../../sim/tune/stretchedWindow';
import { tuneOn } from '../../sim/tune/tune';
import { buildWorld } from '../../sim/world';

const ALL_HOURS = [...Array(24).keys()];

describe('fitMultipliers', () => {
  it('gives each hour its share of the basis, mean 1, four decimals', () => {
    const t = emptyTotals();
    t.requests.fill(10);
    t.requests[18] = 50;
    const m = fitMultipliers(t, {
      basis: 'requests',
      smoothingHours: 0,
      shrink: 0,
      hoursObserved: ALL_HOURS,
    });
    expect(m[18]! / m[0]!).toBeCloseTo(5, 3);
    expect(m.reduce((a, b) => a + b, 0)).toBeCloseTo(24, 2);
    for (const x of m) expect(Math.round(x * 1e4)).toBe(x * 1e4);
  });

  it('gives unobserved hours the mean of the observed ones, and shrink 1 is flat', () => {
    const t = emptyTotals();
    for (let h = 0; h < 10; h++) t.requests[h] = h + 1;
    const hoursObserved = ALL_HOURS.slice(0, 10);
    const m = fitMultipliers(t, { basis: 'requests', smoothingHours: 0, shrink: 0, hoursObserved });
    expect(new Set(m.slice(10)).size).toBe(1);
    const flat = fitMultipliers(t, { basis: 'requests', smoothingHours: 0, shrink: 1, hoursObserved });
    expect(flat).toEqual(new Array(24).fill(1));
  });

  it('always makes a curve the core accepts (property)', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 0, max: 1e6 }), { minLength: 24, maxLength: 24 })
          .filter((a) => a.some((x) => x > 0)),
        fc.integer({ min: 0, max: 3 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (counts, smoothingHours, shrink) => {
          const t = emptyTotals();
          counts.forEach((n, h) => {
            t.requests[h] = n;
          });
          const m = fitMultipliers(t, {
            basis: 'requests',
            smoothingHours,
            shrink,
            hoursObserved: ALL_HOURS,
          });
          makeCampaign({ id: 'c', dailyBudgetMicros: 1, pacingMode: 'ADAPTIVE', hourlyMultipliers: m });
          const curve = curveFromWeights(m);
          for (let h = 0; h < 24; h++) expect(curve[h + 1]!).toBeGreaterThanOrEqual(curve[h]!);
        },
      ),
    );
  });
});

describe('multipliers file', () => {
  const file = {
    hourlyMultipliers: Array.from({ length: 24 }, (_, h) => (h < 12 ? 0.5 : 1.5)),
    source: 'test',
    fittedOn: { basis: 'requests' as const, hoursObserved: ALL_HOURS, requests: 10, seed: 1 },
    gains: { tickMs: 15_000, catchUpTicks: 2 },
  };

  it('round-trips byte for byte and feeds the server API body', () => {
    const text = formatMultipliersFile(file);
    expect(formatMultipliersFile(parseMultipliersFile(text, 'f'))).toBe(text);
    expect(pacingModeRequest(parseMultipliersFile(text, 'f'), 'c1')).toEqual({
      campaign_id: 'c1',
      pacing_mode: 'ADAPTIVE',
      hourly_multipliers: file.hourlyMultipliers,
    });
  });

  it('reads the server spelling hourly_multipliers', () => {
    const m = parseMultipliersFile(
      JSON.stringify({ hourly_multipliers: file.hourlyMultipliers }),
      'api.json',
    );
    expect(m.hourlyMultipliers).toEqual(file.hourlyMultipliers);
  });

  it('names the bad field', () => {
    const bad = { ...file, hourlyMultipliers: [...file.hourlyMultipliers] as unknown[] };
    bad.hourlyMultipliers[7] = -1;
    expect(() => parseMultipliersFile(JSON.stringify(bad), 'm.json')).toThrow(
      /m\.json: \/hourlyMultipliers\/7: must be >= 0/,
    );
    expect(() => parseMultipliersFile('{"hourlyMultipliers":[1,2]}', 'm.json')).toThrow(MultipliersFileError);
    // The core campaign rule: at most 1000 per hour, one hour above 0.
    const tooBig = { ...file, hourlyMultipliers: file.hourlyMultipliers.map((x, h) => (h === 3 ? 1001 : x)) };
    expect(() => parseMultipliersFile(JSON.stringify(tooBig), 'm.json')).toThrow(
      /\/hourlyMultipliers\/3: must be <= 1000/,
    );
    expect(() =>
      parseMultipliersFile(JSON.stringify({ hourly_multipliers: new Array(24).fill(0) }), 'm.json'),
    ).toThrow(/\/hourly_multipliers: at least one hour must be above 0/);
    expect(() => parseMultipliersFile(JSON.stringify({ ...file, gains: { tickMs: 5 } }), 'm.json')).toThrow(
      /\/gains\/tickMs: must be >= 1000/,
    );
  });
});

const SMALL = `
name: tune-small
seed: 11
algorithms: [EVEN, ADAPTIVE]
instances: { count: 1, syncIntervalMs: 10000 }
stream:
  kind: synthetic
  meanQps: 0.5
  surges: [{ from: "18:00", to: "20:00", multiplier: 4 }]
  marketPrice: { medianCpmMicros: 800000, sigma: 0.5 }
campaigns:
  generate: { count: 3, budgetMicros: { min: 1000000, max: 2000000 }, bidCpmMicros: { min: 900000, max: 1500000 }, fullPassToBudget: { min: 5, max: 8 } }
`;

describe('tuneOn', () => {
  it('is deterministic: tuning twice on the same inputs gives the same file, bytes and all', async () => {
    const s = parseScenario(SMALL, 'inline');
    const grid = [
      { tickMs: 60_000, catchUpTicks: 10 },
      { tickMs: 15_000, catchUpTicks: 2 },
    ];
    const once = async () => {
      const { searchGains } = await import('../../sim/tune/tune');
      const history = buildWorld(s, s.seed + 1);
      const r = await tuneOn(history, { basis: 'requests', source: 'x', search: false });
      const { best } = await searchGains(history, r.file.hourlyMultipliers, grid);
      return formatMultipliersFile({ ...r.file, gains: best });
    };
    const a = await once();
    expect(await once()).toBe(a);
    const m = JSON.parse(a).hourly_multipliers as number[];
    // The surge hours carry about four times the traffic of their neighbours.
    expect(m[18]! / m[16]!).toBeGreaterThan(2.5);
  }, 30_000);
});

describe('stretchedWindow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tune-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps only the window, spread over the whole day in order', () => {
    const path = join(dir, 'rec.tsv');
    const rows: string[] = [];
    for (let h = 0; h < 4; h++) for (let i = 0; i < 10; i++) rows.push(`0\t${50 + h}\t0.001\t${h}`);
    writeFileSync(path, `${rows.join('\n')}\n`);
    const s = parseScenario(
      `name: r\nseed: 1\nalgorithms: [EVEN]\nstream: { kind: recorded, preset: ipinyou, path: ${path} }\ncampaigns: { list: [{ id: c, dailyBudgetMicros: 1000, bidCpmMicros: 3000000, participation: 1 }] }\n`,
      'inline',
    );
    const w = buildWorld(s);
    const win = stretchedWindow(w.stream, 1, 3);
    const t = collectTotals(win.open(1), hourOfDay(w.startMs));
    expect(t.requests.reduce((a, b) => a + b, 0)).toBe(20);
    // Hours 1 and 2 of the recording become hours 0..11 and 12..23 of the stretched day.
    expect(t.requests.slice(0, 12).reduce((a, b) => a + b, 0)).toBe(10);
    expect(t.costMicros[0]).toBeGreaterThan(0);
    expect(Math.round(win.plan.expectedRequests)).toBe(20);
    expect(readFileSync(path, 'utf8').length).toBeGreaterThan(0);
  });
});
