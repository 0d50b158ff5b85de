import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, scenarioFrom } from '../../sim/scenario';
import { RecordedStreamError, recordedStream } from '../../sim/sources/recorded';
import type { RecordedStreamSpec } from '../../sim/sources/recorded';
import { minuteRates, syntheticStream } from '../../sim/sources/synthetic';
import { SCENARIOS, smallScenario } from './fixtures';

const START = Date.parse('2024-03-15T00:00:00Z');
const IPINYOU = resolve(SCENARIOS, '../../shared/data/ipinyou-1458-hours00-14.tsv');

describe('synthetic stream', () => {
  const spec = smallScenario({
    stream: {
      kind: 'synthetic',
      meanQps: 20,
      surges: [{ from: '18:00', to: '22:00', multiplier: 5 }],
      marketPrice: { medianCpmMicros: 800000, sigma: 0.5 },
    },
  }).stream;
  if (spec.kind !== 'synthetic') throw new Error('unreachable');

  it('arrives at the profile rate, 5x inside the surge, in time order, and stops at the day end', () => {
    const f = syntheticStream(spec, START, 1);
    const src = f.open(1);
    const perHour = new Array<number>(24).fill(0);
    let last = START;
    let n = 0;
    let backwards = 0;
    while (src.next()) {
      const t = src.req.timeMs;
      if (t < last) backwards++;
      last = t;
      perHour[Math.floor((t - START) / 3_600_000)]!++;
      n++;
    }
    expect(backwards).toBe(0);
    expect(last).toBeLessThan(START + 86_400_000);
    // Poisson counts: within 5 standard deviations of what the plan expects.
    expect(Math.abs(n - f.plan.expectedRequests)).toBeLessThan(5 * Math.sqrt(f.plan.expectedRequests));
    const rates = minuteRates(spec, 1);
    const expected19 = rates.slice(19 * 60, 20 * 60).reduce((a, b) => a + b, 0) * 60_000;
    expect(Math.abs(perHour[19]! - expected19)).toBeLessThan(5 * Math.sqrt(expected19));
    expect(rates[19 * 60]! / rates[17 * 60 + 59]!).toBeGreaterThan(4.5);
  });

  it('gives the same stream for one seed and another for another seed', () => {
    const f = syntheticStream(spec, START, 1);
    const take = (seed: number) => {
      const src = f.open(seed);
      const xs: number[] = [];
      for (let i = 0; i < 50 && src.next(); i++) {
        src.fill();
        xs.push(src.req.timeMs, src.req.marketPriceCpmMicros);
      }
      return xs;
    };
    expect(take(3)).toEqual(take(3));
    expect(take(3)).not.toEqual(take(4));
  });

  it('derives price and pctr from the request, so skipping fill() does not shift later requests', () => {
    const f = syntheticStream(spec, START, 1);
    const a = f.open(9);
    const b = f.open(9);
    const pricesA: number[] = [];
    const pricesB: number[] = [];
    for (let i = 0; i < 200; i++) {
      a.next();
      b.next();
      a.fill();
      pricesA.push(a.req.marketPriceCpmMicros);
      if (i % 3 === 0) {
        b.fill();
        pricesB.push(b.req.marketPriceCpmMicros);
      }
    }
    expect(pricesB).toEqual(pricesA.filter((_, i) => i % 3 === 0));
  });
});

function ipinyouSpec(): RecordedStreamSpec {
  const s = loadScenario(resolve(SCENARIOS, 'ipinyou.yaml')).stream;
  if (s.kind !== 'recorded') throw new Error('ipinyou.yaml must be recorded');
  return s;
}

describe('recorded stream', () => {
  it('replays the iPinYou log lazily: every row, its hours, its prices and clicks', () => {
    const f = recordedStream(ipinyouSpec(), IPINYOU, START, 1);
    const src = f.open(0);
    const perHour = new Array<number>(24).fill(0);
    let rows = 0;
    let fen = 0;
    let clicks = 0;
    let last = START;
    let backwards = 0;
    while (src.next()) {
      src.fill();
      const r = src.req;
      if (r.timeMs < last) backwards++;
      last = r.timeMs;
      perHour[Math.floor((r.timeMs - START) / 3_600_000)]!++;
      fen += r.marketPriceCpmMicros / 10_000;
      clicks += r.click;
      rows++;
    }
    // The figures of ../shared/data/README.md.
    expect(backwards).toBe(0);
    expect(rows).toBe(220_000);
    expect(clicks).toBe(156);
    expect(Math.round(fen)).toBe(14_712_509);
    expect(perHour.slice(0, 15)).toEqual([
      20549, 9905, 6769, 7340, 3233, 3994, 3584, 11239, 11948, 14609, 25002, 26100, 25193, 24881, 25654,
    ]);
    expect(f.plan.expectedRequests).toBeCloseTo(220_000, 3);
  });

  it('maps columns by header name and reports a bad row with its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-'));
    const path = join(dir, 'bids.csv');
    writeFileSync(path, 'ts,price,clk\n0,100,0\n1000,250,1\n2000,oops,0\n');
    const spec = scenarioFrom(
      {
        name: 'csv',
        seed: 1,
        algorithms: ['EVEN'],
        stream: {
          kind: 'recorded',
          path: 'bids.csv',
          header: true,
          priceMicrosPerUnit: 1000,
          columns: { timeMs: 'ts', marketPrice: 'price', click: 'clk' },
        },
        campaigns: { list: [{ id: 'a', dailyBudgetMicros: 1000, bidCpmMicros: 1000, participation: 0.5 }] },
      },
      'csv',
      join(dir, 'csv.yaml'),
    ).stream as RecordedStreamSpec;
    expect(() => recordedStream(spec, path, START, 1)).toThrow(RecordedStreamError);
    expect(() => recordedStream(spec, path, START, 1)).toThrow(
      /bids\.csv:4: market price "oops" is not a number/,
    );
    writeFileSync(path, 'ts,price,clk\n0,100,0\n1000,250,1\n');
    const src = recordedStream(spec, path, START, 1).open(0);
    expect(src.next()).toBe(true);
    expect(src.next()).toBe(true);
    expect([src.req.timeMs - START, src.req.marketPriceCpmMicros, src.req.click]).toEqual([1000, 250_000, 1]);
    expect(src.next()).toBe(false);
  });
});

describe('recorded stream: ordering, hour counters, quoting', () => {
  /** A recorded spec for a small CSV in a temp dir: hour, price, pctr, click columns by index. */
  function csvSpec(
    text: string,
    extra: Record<string, unknown> = {},
  ): { spec: RecordedStreamSpec; path: string } {
    const dir = mkdtempSync(join(tmpdir(), 'rec-'));
    const path = join(dir, 'bids.csv');
    writeFileSync(path, text);
    const spec = scenarioFrom(
      {
        name: 'csv',
        seed: 1,
        algorithms: ['EVEN'],
        stream: {
          kind: 'recorded',
          path: 'bids.csv',
          priceMicrosPerUnit: 1000,
          columns: { hour: 0, marketPrice: 1, pctr: 2, click: 3 },
          ...extra,
        },
        campaigns: { list: [{ id: 'a', dailyBudgetMicros: 1000, bidCpmMicros: 1000, participation: 0.5 }] },
      },
      'csv',
      join(dir, 'csv.yaml'),
    ).stream as RecordedStreamSpec;
    return { spec, path };
  }

  /** [hour of the run, price in the file's units] of every replayed row. */
  function replay(spec: RecordedStreamSpec, path: string, days = 1, seed = 0): number[][] {
    const src = recordedStream(spec, path, START, days).open(seed);
    const rows: number[][] = [];
    while (src.next()) rows.push([(src.req.timeMs - START) / 3_600_000, src.req.marketPriceCpmMicros / 1000]);
    return rows;
  }

  it('replays every row of a log whose hour column goes backwards, sorted by hour (was: cut after 2 rows)', () => {
    const { spec, path } = csvSpec('5,10,0.1,0\n6,11,0.1,0\n2,12,0.1,1\n6,13,0.1,0\n');
    const rows = replay(spec, path);
    expect(rows.map((r) => r[1])).toEqual([12, 10, 11, 13]);
    expect(rows.map((r) => Math.floor(r[0]!))).toEqual([2, 5, 6, 6]);
  });

  it('reads an absolute hour counter: hour of day = value mod 24, day = value div 24', () => {
    const { spec, path } = csvSpec('22,10,0.1,0\n23,11,0.1,0\n24,12,0.1,0\n49,13,0.1,0\n');
    expect(replay(spec, path, 3).map((r) => Math.floor(r[0]!))).toEqual([22, 23, 24, 49]);
    // A row past the simulated days is an error naming the fix, never a silently shorter run.
    expect(() => recordedStream(spec, path, START, 2)).toThrow(
      /bids\.csv:4: hour 49 is on day 3 of the recording, but the scenario simulates 2 day\(s\)/,
    );
  });

  it('reads quoted fields with csv-parse (a delimiter inside quotes is data)', () => {
    const header = {
      header: true,
      columns: { hour: 'hour', marketPrice: 'price', pctr: 'pctr', click: 'click' },
    };
    const { spec, path } = csvSpec(
      'hour,price,pctr,click,note\n1,"10",0.5,0,"a, b"\n1,"2,5",0.5,0,x\n',
      header,
    );
    expect(() => recordedStream(spec, path, START, 1)).toThrow(
      /bids\.csv:3: market price "2,5" is not a number/,
    );
    writeFileSync(path, 'hour,price,pctr,click,note\r\n1,"10",0.5,0,"a, b"\r\n1,20,0.5,1,"say ""hi"""\r\n');
    expect(replay(spec, path).map((r) => r[1])).toEqual([10, 20]);
  });

  it('with order: shuffled, permutes rows within each hour by the seed, never across hours', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `${i < 20 ? 3 : 4},${i},0.1,0`).join('\n');
    const { spec, path } = csvSpec(lines, { order: 'shuffled' });
    const a = replay(spec, path, 1, 1).map((r) => r[1]!);
    const b = replay(spec, path, 1, 2).map((r) => r[1]!);
    expect(replay(spec, path, 1, 1).map((r) => r[1])).toEqual(a);
    expect(a).not.toEqual(b);
    expect([...a.slice(0, 20)].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const log = csvSpec(lines);
    expect(replay(log.spec, log.path, 1, 1).map((r) => r[1])).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
  });
});
