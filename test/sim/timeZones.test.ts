import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { EXIT_BAD_INPUT, main } from '../../cli/sim';
import { localDays } from '../../sim/localDays';
import { type ScenarioResult, runScenario } from '../../sim/run';
import { ScenarioError, loadScenario, scenarioFrom } from '../../sim/scenario';
import { localHourSpendMicros } from '../../sim/scores';
import { buildWorld } from '../../sim/world';
import { SCENARIOS, captureIo } from './fixtures';

const HOUR_MS = 3_600_000;
const DST_GLOBAL = resolve(SCENARIOS, 'dst-global.yaml');

/** The scenario file's data, for variants. */
function dstGlobalData(): Record<string, unknown> {
  return parse(readFileSync(DST_GLOBAL, 'utf8'));
}

/** Spend of campaign `id` booked in [fromMs, toMs), from the run's per-minute series. */
function spendBetween(result: ScenarioResult, id: string, fromMs: number, toMs: number): number {
  const run = result.runs[0]!;
  const c = run.campaigns.findIndex((x) => x.id === id);
  const m0 = (fromMs - result.world.startMs) / 60_000;
  const m1 = (toMs - result.world.startMs) / 60_000;
  let s = 0;
  for (let m = Math.max(0, m0); m < Math.min(m1, run.minutes); m++)
    s += run.spendPerMinute[c * run.minutes + m]!;
  return s;
}

describe('local days of a time zone (sim/localDays.ts)', () => {
  it("New York's 2024-03-10 is 23 hours, midnight EST to midnight EDT", () => {
    const z = localDays('America/New_York', '2024-03-10', 2);
    expect(z.dates).toEqual(['2024-03-10', '2024-03-11']);
    expect(z.boundsMs).toEqual([
      Date.parse('2024-03-10T05:00:00Z'),
      Date.parse('2024-03-11T04:00:00Z'),
      Date.parse('2024-03-12T04:00:00Z'),
    ]);
  });

  it("London's 2024-10-27 is 25 hours; Tokyo's days are 24", () => {
    const ldn = localDays('Europe/London', '2024-10-27', 1);
    expect(ldn.boundsMs[1]! - ldn.boundsMs[0]!).toBe(25 * HOUR_MS);
    const tyo = localDays('Asia/Tokyo', '2024-03-10', 1);
    expect(tyo.boundsMs).toEqual([Date.parse('2024-03-09T15:00:00Z'), Date.parse('2024-03-10T15:00:00Z')]);
  });
});

describe('scenario time zones: validated at the edge', () => {
  it('defaults to UTC and keeps the zone given', () => {
    const s = loadScenario(DST_GLOBAL);
    const zones = s.campaigns.list!.map((c) => c.timeZone);
    expect(zones).toContain('America/New_York');
    expect(zones.at(-1)).toBe('UTC');
  });

  it('refuses a zone that is not IANA, naming the field and saying what to give', () => {
    const data = dstGlobalData() as { campaigns: { list: Record<string, unknown>[] } };
    data.campaigns.list[0]!.timeZone = 'Mars/Olympus_Mons';
    data.campaigns.list[1]!.timeZone = '__proto__';
    let problems: readonly string[] = [];
    try {
      scenarioFrom(data, 'bad-zone.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(ScenarioError);
      problems = (err as ScenarioError).problems;
    }
    expect(problems).toEqual([
      '/campaigns/list/0/timeZone: "Mars/Olympus_Mons" is not an IANA time zone such as "America/New_York".',
      '/campaigns/list/1/timeZone: "__proto__" is not an IANA time zone such as "America/New_York".',
    ]);
  });

  it('the CLI exits 2 on a bad zone, for listed and generated campaigns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-tz-'));
    const listed = dstGlobalData() as { campaigns: { list: Record<string, unknown>[] } };
    listed.campaigns.list[2]!.timeZone = 'Europe/Londn';
    writeFileSync(join(dir, 'listed.yaml'), stringify(listed));
    const t = captureIo();
    expect(await main([join(dir, 'listed.yaml')], t.io)).toBe(EXIT_BAD_INPUT);
    expect(t.err.join('')).toContain('/campaigns/list/2/timeZone: "Europe/Londn" is not an IANA time zone');
    const generated = parse(readFileSync(resolve(SCENARIOS, 'friday.yaml'), 'utf8'));
    generated.campaigns.generate.timeZone = 'Nowhere/City';
    writeFileSync(join(dir, 'generated.yaml'), stringify(generated));
    const g = captureIo();
    expect(await main([join(dir, 'generated.yaml')], g.io)).toBe(EXIT_BAD_INPUT);
    expect(g.err.join('')).toContain('/campaigns/generate/timeZone: "Nowhere/City" is not an IANA time zone');
  });
});

describe('dates a zone never had', () => {
  it('refuses a day its calendar skipped (Pacific/Apia, 2011-12-30) with exit-2 bad input', () => {
    const data = dstGlobalData() as { startDate: string; campaigns: { list: Record<string, unknown>[] } };
    data.startDate = '2011-12-29';
    data.campaigns.list[0]!.timeZone = 'Pacific/Apia';
    const s = scenarioFrom(data, 'apia (test)');
    expect(() => buildWorld(s)).toThrow(ScenarioError);
    expect(() => buildWorld(s)).toThrow(/2011-12-29 is not a whole day in Pacific\/Apia/);
  });
});

describe('generated campaigns in a zone', () => {
  it("all live in it, and ADAPTIVE's traffic multipliers are the stream's share by local hour", () => {
    const friday = parse(readFileSync(resolve(SCENARIOS, 'friday.yaml'), 'utf8'));
    const utc = buildWorld(scenarioFrom(friday, 'friday (test)'));
    friday.campaigns.generate.timeZone = 'Asia/Tokyo';
    const tokyo = buildWorld(scenarioFrom(friday, 'friday in Tokyo (test)'));
    expect(new Set(tokyo.campaigns.map((c) => c.timeZone))).toEqual(new Set(['Asia/Tokyo']));
    expect(tokyo.startMs).toBe(Date.parse('2024-03-14T15:00:00Z'));
    // Tokyo's local hour h is UTC hour h - 9: the same profile, turned by nine hours.
    const u = utc.campaigns[0]!.hourlyMultipliers;
    const t = tokyo.campaigns[0]!.hourlyMultipliers;
    for (let h = 0; h < 24; h++) expect(t[h]).toBeCloseTo(u[(h + 15) % 24]!, 3);
  });
});

describe('scenarios/dst-global.yaml: New York, London and Tokyo across the 2024-03-10 spring-forward', () => {
  let result: ScenarioResult;
  beforeAll(async () => {
    result = await runScenario(loadScenario(DST_GLOBAL), { algorithms: ['EVEN'] });
  }, 120_000);

  const rowsOf = (id: string) => result.campaignDays.EVEN!.filter((r) => r.campaignId === id);

  it("keys a New York campaign's days by local date, the first 23 hours long", () => {
    const rows = rowsOf('ny-a');
    expect(rows.map((r) => [r.date, r.timeZone, r.hours])).toEqual([
      ['2024-03-10', 'America/New_York', 23],
      ['2024-03-11', 'America/New_York', 24],
    ]);
    const c = result.world.campaigns.findIndex((x) => x.id === 'ny-a');
    const buckets = localHourSpendMicros(result.runs[0]!, result.world.campaigns[c]!, c, 0);
    expect(buckets).toHaveLength(23);
    expect(buckets.reduce((a, b) => a + b, 0)).toBe(rows[0]!.spendMicros);
  });

  it('books each local day within budget: the same spend the pacer holds under that local date', () => {
    const run = result.runs[0]!;
    for (const row of result.campaignDays.EVEN!) {
      const { boundsMs } = localDays(row.timeZone, row.date, 1);
      // Spend made between the zone's two midnights is the row's spend, and it fits the budget.
      expect(spendBetween(result, row.campaignId, boundsMs[0]!, boundsMs[1]!)).toBe(row.spendMicros);
      expect(row.overspendMicros).toBe(0);
      const c = run.campaigns.findIndex((x) => x.id === row.campaignId);
      // The core's store keys spend by the campaign's local date: it agrees to the micro.
      expect(run.storeSpendMicros[c * run.days + row.day]).toBe(row.spendMicros);
      if (row.constrained) expect(row.utilisation).toBeGreaterThan(0.95);
    }
    // On UTC days New York's spend would be cut differently: the first 5 UTC hours of 2024-03-10
    // belong to New York's 2024-03-09 and carry none of its spend.
    expect(
      spendBetween(result, 'ny-a', Date.parse('2024-03-10T00:00:00Z'), Date.parse('2024-03-10T05:00:00Z')),
    ).toBe(0);
    const utcDay = spendBetween(
      result,
      'ny-a',
      Date.parse('2024-03-10T00:00:00Z'),
      Date.parse('2024-03-11T00:00:00Z'),
    );
    expect(utcDay).not.toBe(rowsOf('ny-a')[0]!.spendMicros);
  });

  it('scores the 23-hour day against a target curve over its real 23 hours', () => {
    const ny = result.series.localDays.find(
      (z) => z.timeZone === 'America/New_York' && z.date === '2024-03-10',
    )!;
    expect(ny.targetShare).toHaveLength(23);
    expect(ny.targetShare.at(-1)).toBe(1);
    // EVEN's target after 11 of 23 hours is 11/23 of the budget (on a 24-hour grid: 11/24).
    expect(ny.targetShare[10]).toBeCloseTo(11 / 23, 5);
    for (const row of rowsOf('ny-a')) expect(row.accuracy).toBeGreaterThan(0.98);
    const first = rowsOf('ny-a')[0]!;
    expect(first.exhaustionMinute).not.toBeNull();
    expect(first.exhaustionMinute!).toBeLessThanOrEqual(23 * 60);
    expect(first.minutesAlive).toBeLessThanOrEqual(23 * 60);
  });

  it('names each campaign zone in the summary and per zone scores', () => {
    expect(result.summary.scenario.timeZones).toEqual({
      'America/New_York': 2,
      'Europe/London': 2,
      'Asia/Tokyo': 2,
      UTC: 1,
    });
    expect(result.campaigns.find((c) => c.id === 'tyo-a')!.timeZone).toBe('Asia/Tokyo');
    const ny = result.summary.algorithms[0]!.timeZones!.find((z) => z.timeZone === 'America/New_York')!;
    expect(ny.dayHours).toEqual([23, 24]);
    expect(ny.overspentCampaignDays).toBe(0);
    // The run spans Tokyo's first midnight to New York's last.
    expect(result.world.startMs).toBe(Date.parse('2024-03-09T15:00:00Z'));
    expect(result.world.endMs).toBe(Date.parse('2024-03-12T04:00:00Z'));
  });

  it('reproduces byte for byte from its seed', async () => {
    const again = await runScenario(loadScenario(DST_GLOBAL), { algorithms: ['EVEN'] });
    expect(JSON.stringify([again.summary, again.campaignDays, again.series])).toBe(
      JSON.stringify([result.summary, result.campaignDays, result.series]),
    );
  }, 120_000);
});

describe('worker threads', () => {
  it('rebuild the same zoned world: the runs match one thread byte for byte', async () => {
    const s = loadScenario(DST_GLOBAL);
    const opts = { algorithms: ['EVEN', 'ADAPTIVE'] as const };
    const one = await runScenario(s, { ...opts, threads: 1 });
    const two = await runScenario(s, { ...opts, threads: 2 });
    expect(JSON.stringify([two.summary, two.campaignDays])).toBe(
      JSON.stringify([one.summary, one.campaignDays]),
    );
  }, 240_000);
});

describe('a 25-hour day: London on 2024-10-27', () => {
  it('has 25 hour buckets, fills its budget without overspend and paces over 25 hours', async () => {
    const data = dstGlobalData() as Record<string, unknown>;
    const s = scenarioFrom(
      {
        ...data,
        startDate: '2024-10-27',
        days: 1,
        campaigns: {
          list: [
            {
              id: 'ldn',
              timeZone: 'Europe/London',
              dailyBudgetMicros: 20000000,
              bidCpmMicros: 2000000,
              participation: 0.75,
            },
            {
              id: 'tyo',
              timeZone: 'Asia/Tokyo',
              dailyBudgetMicros: 20000000,
              bidCpmMicros: 2000000,
              participation: 0.75,
            },
          ],
        },
      },
      'london-fall-back (test)',
    );
    const r = await runScenario(s, { algorithms: ['EVEN'] });
    const [ldn, tyo] = r.campaignDays.EVEN!;
    expect([ldn!.date, ldn!.hours, tyo!.hours]).toEqual(['2024-10-27', 25, 24]);
    const buckets = localHourSpendMicros(r.runs[0]!, r.world.campaigns[0]!, 0, 0);
    expect(buckets).toHaveLength(25);
    // Spend in the 25th hour: the day really runs its extra hour.
    expect(buckets[24]!).toBeGreaterThan(0);
    expect(ldn!.overspendMicros).toBe(0);
    expect(ldn!.utilisation).toBeGreaterThan(0.95);
    expect(ldn!.accuracy).toBeGreaterThan(0.98);
    expect(r.series.localDays.find((z) => z.timeZone === 'Europe/London')!.targetShare).toHaveLength(25);
  }, 120_000);
});

describe('a half-hour zone beside UTC', () => {
  it('runs from Kolkata midnight (18:30 UTC) on a part-hour grid, every series finite', async () => {
    const data = dstGlobalData() as Record<string, unknown>;
    const s = scenarioFrom(
      {
        ...data,
        days: 1,
        campaigns: {
          list: [
            {
              id: 'del',
              timeZone: 'Asia/Kolkata',
              dailyBudgetMicros: 20000000,
              bidCpmMicros: 2000000,
              participation: 0.75,
            },
            { id: 'utc', dailyBudgetMicros: 20000000, bidCpmMicros: 2000000, participation: 0.75 },
          ],
        },
      },
      'kolkata (test)',
    );
    const r = await runScenario(s, { algorithms: ['EVEN'] });
    expect(r.world.startMs).toBe(Date.parse('2024-03-09T18:30:00Z'));
    expect(r.world.minutes).toBe(29 * 60 + 30);
    const series = r.series.algorithms[0]!;
    expect(series.spendPerHourMicros).toHaveLength(30);
    for (const xs of [series.spendShare, series.targetShare, series.spendPerHourMicros])
      expect(xs.every(Number.isFinite)).toBe(true);
    for (const row of r.campaignDays.EVEN!) {
      expect(row.hours).toBe(24);
      expect(row.overspendMicros).toBe(0);
      expect(row.utilisation).toBeGreaterThan(0.95);
    }
  }, 120_000);
});
