import { describe, expect, it } from 'vitest';
import { makeCampaign } from '../../core/campaign';
import { errorCode } from '../../core/errors';
import { analyticsRange } from '../../server/events/analyticsRange';
import { buildAnalytics, perUnitMicros } from '../../server/events/analyticsReport';
import type { EventHourTotals } from '../../server/events/eventRecords';
import { MAX_EVENT_AGE_MS, MAX_EVENT_SKEW_MS, stampEvents } from '../../server/events/eventStamp';
import type { HourTotals } from '../../server/records/historyRecords';

function ev(
  dayKey: string,
  hourIndex: number,
  impressions: number,
  clicks: number,
  conversions: number,
): EventHourTotals {
  return { dayKey, hourIndex, impressions, clicks, conversions };
}

function spend(dayKey: string, hourIndex: number, spendMicros: number): HourTotals {
  return {
    dayKey,
    hourIndex,
    spendMicros,
    requests: 0,
    allowed: 0,
    wins: 0,
    impressions: 0,
    clicks: 0,
    conversions: 0,
  };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('perUnitMicros', () => {
  it('rounds half up, exactly, past 2^53 in the intermediate product', () => {
    expect(perUnitMicros(5, 2)).toBe(3);
    expect(perUnitMicros(4, 3)).toBe(1);
    expect(perUnitMicros(2_500_000, 1000, 1000)).toBe(2_500_000);
    // 9e15 micros x 1000 is far past 2^53: the float quotient rounds to ...331, the exact one is ...330.
    expect(perUnitMicros(9_007_199_254_740_991, 3000, 1000)).toBe(3_002_399_751_580_330);
    expect(Math.round((9_007_199_254_740_991 * 1000) / 3000)).toBe(3_002_399_751_580_331);
  });
  it('is null without a divisor', () => {
    expect(perUnitMicros(100, 0)).toBeNull();
  });
});

describe('buildAnalytics', () => {
  const events = [
    ev('2026-11-29', 10, 1000, 20, 2),
    ev('2026-11-30', 0, 500, 0, 0),
    ev('2026-11-30', 23, 0, 5, 1),
  ];
  const spends = [
    spend('2026-11-29', 10, 2_500_000),
    spend('2026-11-30', 0, 1_000_000),
    spend('2026-11-30', 5, 7),
  ];

  it('sums totals over the range and derives CTR, CPM, CPC and CPA from them', () => {
    const r = buildAnalytics(events, spends, { from: '2026-11-29', to: '2026-11-30', by: 'day' });
    expect(r.totals).toEqual({
      impressions: 1500,
      clicks: 25,
      conversions: 3,
      spendMicros: 3_500_007,
      ctr: 25 / 1500,
      cpmMicros: 2_333_338,
      cpcMicros: 140_000,
      cpaMicros: 1_166_669,
    });
    expect(r.buckets.map((b) => [b.dayKey, b.hourIndex, b.impressions, b.spendMicros])).toEqual([
      ['2026-11-29', null, 1000, 2_500_000],
      ['2026-11-30', null, 500, 1_000_007],
    ]);
  });

  it('lists every hour (zeros included) by hour, and nulls the ratios without divisors', () => {
    const r = buildAnalytics(events, spends, { from: '2026-11-30', to: '2026-11-30', by: 'hour' });
    expect(r.buckets).toHaveLength(24);
    expect(r.buckets[0]).toMatchObject({
      impressions: 500,
      clicks: 0,
      ctr: 0,
      cpmMicros: 2_000_000,
      cpcMicros: null,
    });
    expect(r.buckets[5]).toMatchObject({
      impressions: 0,
      spendMicros: 7,
      ctr: null,
      cpmMicros: null,
      cpaMicros: null,
    });
    expect(r.buckets[23]).toMatchObject({ clicks: 5, conversions: 1, cpcMicros: 0, cpaMicros: 0 });
    expect(r.totals.impressions).toBe(500);
  });

  it('keeps hour 24 of a 25-hour day, and reports days without data as zeros', () => {
    const r = buildAnalytics([ev('2026-11-01', 24, 3, 1, 0)], [], {
      from: '2026-10-31',
      to: '2026-11-01',
      by: 'hour',
    });
    expect(r.buckets).toHaveLength(24 + 25);
    expect(r.buckets.at(-1)).toMatchObject({ dayKey: '2026-11-01', hourIndex: 24, impressions: 3 });
    expect(r.buckets[0]).toMatchObject({ dayKey: '2026-10-31', hourIndex: 0, impressions: 0, ctr: null });
  });

  it('ignores rows outside the range', () => {
    const r = buildAnalytics(events, spends, { from: '2026-11-30', to: '2026-11-30', by: 'day' });
    expect(r.totals.impressions).toBe(500);
    expect(r.totals.spendMicros).toBe(1_000_007);
  });
});

describe('analyticsRange', () => {
  it('defaults to the 7 days ending today', () => {
    expect(analyticsRange({}, '2026-11-30')).toEqual({ from: '2026-11-24', to: '2026-11-30' });
    expect(analyticsRange({ to: '2026-03-02' }, '2026-11-30')).toEqual({
      from: '2026-02-24',
      to: '2026-03-02',
    });
  });
  it.each([
    [{ from: '2026-12-01', to: '2026-11-01' }, /after/],
    [{ from: '2026-02-30', to: '2026-03-01' }, /not a calendar date/],
    [{ to: '2026-13-01' }, /not a calendar date/],
    [{ from: '2020-01-01', to: '2026-01-01' }, /more than 366/],
  ])('refuses %o with PACER_ERR_INVALID_RANGE', (q, message) => {
    const err = thrown(() => analyticsRange(q, '2026-11-30'));
    expect(errorCode(err)).toBe('PACER_ERR_INVALID_RANGE');
    expect((err as Error).message).toMatch(message);
  });
});

describe('stampEvents', () => {
  const nowMs = Date.UTC(2026, 10, 30, 12, 0, 0);
  const ny = makeCampaign({
    id: 'ny',
    name: 'ny',
    dailyBudgetMicros: 1_000_000,
    timeZone: 'America/New_York',
  });
  const utc = makeCampaign({ id: 'u', name: 'u', dailyBudgetMicros: 1_000_000, timeZone: 'UTC' });
  const of = (id: string) => (id === 'ny' ? ny : utc);

  it("buckets each event in its campaign's local day and hour, now when it carries no time", () => {
    const out = stampEvents(
      [
        {
          event_id: 'a',
          type: 'impression',
          campaign_id: 'ny',
          user_id: 'u1',
          at_ms: Date.UTC(2026, 10, 30, 3, 30),
        },
        { event_id: 'b', type: 'click', campaign_id: 'ny', at_ms: Date.UTC(2026, 10, 30, 5, 0) },
        { event_id: 'c', type: 'conversion', campaign_id: 'u' },
      ],
      of,
      nowMs,
    );
    expect(out.map((e) => [e.eventId, e.dayKey, e.hourIndex, e.userId, e.atMs])).toEqual([
      ['a', '2026-11-29', 22, 'u1', Date.UTC(2026, 10, 30, 3, 30)],
      ['b', '2026-11-30', 0, null, Date.UTC(2026, 10, 30, 5, 0)],
      ['c', '2026-11-30', 12, null, nowMs],
    ]);
  });

  it('refuses events older than the dedup window or from the future', () => {
    for (const atMs of [nowMs - MAX_EVENT_AGE_MS - 1, nowMs + MAX_EVENT_SKEW_MS + 1]) {
      const err = thrown(() =>
        stampEvents([{ event_id: 'x', type: 'click', campaign_id: 'u', at_ms: atMs }], of, nowMs),
      );
      expect(errorCode(err)).toBe('PACER_ERR_EVENT_TIME');
    }
    expect(
      stampEvents(
        [{ event_id: 'x', type: 'click', campaign_id: 'u', at_ms: nowMs - MAX_EVENT_AGE_MS }],
        of,
        nowMs,
      ),
    ).toHaveLength(1);
  });
});
