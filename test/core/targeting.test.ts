import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeCampaign } from '../../core/campaign';
import { matchesTargeting } from '../../core/targeting/match';
import { type BidAttributes, bidAttributes } from '../../core/targeting/request';
import { type TargetingInput, normaliseTargeting, targetingIssues } from '../../core/targeting/targeting';
import { TargetingIndex } from '../../core/targeting/targetingIndex';
import { weekHourAt } from '../../core/targeting/weekHour';

/** Monday 3 June 2024, 12:00 UTC: week hour 12 in UTC, 8 in New York (EDT), 21 in Tokyo. */
const MONDAY_NOON_UTC = Date.UTC(2024, 5, 3, 12, 0, 0);

const request: BidAttributes = bidAttributes({
  country: 'usa',
  deviceType: 4,
  os: 'iOS',
  site: 'news.example',
  segments: ['sports', 'autos'],
});

function campaign(id: string, targeting: TargetingInput | null, timeZone = 'UTC') {
  return makeCampaign({ id, dailyBudgetMicros: 1_000_000, maxBidCpmMicros: 1000, targeting, timeZone });
}

const matches = (t: TargetingInput, a: BidAttributes = request, timeZone = 'UTC') => {
  const c = campaign('c', t, timeZone);
  const byIndex = new TargetingIndex([c]).matching(a, MONDAY_NOON_UTC).length === 1;
  const brute = matchesTargeting(c.targeting, a, weekHourAt(timeZone, MONDAY_NOON_UTC));
  // The two paths agree on every row of the table below, and the property test checks the rest.
  expect(byIndex).toBe(brute);
  return byIndex;
};

describe('targeting: each attribute matches and rejects', () => {
  it.each([
    ['geo', { geo: ['USA', 'CAN'] }, { geo: ['DEU'] }],
    ['geo, lower-case input', { geo: ['usa'] }, { geo: ['gbr'] }],
    ['device_types', { deviceTypes: [4, 5] }, { deviceTypes: [2] }],
    ['os, case-insensitive', { os: ['ios'] }, { os: ['Android'] }],
    ['sites', { sites: ['news.example'] }, { sites: ['other.example'] }],
    [
      'apps or sites: one inventory list',
      { apps: ['com.game'], sites: ['news.example'] },
      { apps: ['com.game'] },
    ],
    ['segments: any of', { segments: ['autos', 'travel'] }, { segments: ['travel'] }],
    [
      'dayparts in UTC',
      { dayparts: [{ weekdays: [1], hours: [12] }] },
      { dayparts: [{ weekdays: [1], hours: [13] }] },
    ],
    [
      'dayparts: weekday',
      { dayparts: [{ weekdays: [1, 2], hours: [12] }] },
      { dayparts: [{ weekdays: [2], hours: [12] }] },
    ],
  ] as const)('%s', (_name, yes, no) => {
    expect(matches(yes as TargetingInput)).toBe(true);
    expect(matches(no as TargetingInput)).toBe(false);
  });

  it('reads dayparts on the campaign zone wall clock', () => {
    // 12:00 UTC is 08:00 in New York (EDT) and 21:00 in Tokyo on that Monday.
    expect(matches({ dayparts: [{ weekdays: [1], hours: [8] }] }, request, 'America/New_York')).toBe(true);
    expect(matches({ dayparts: [{ weekdays: [1], hours: [12] }] }, request, 'America/New_York')).toBe(false);
    expect(matches({ dayparts: [{ weekdays: [1], hours: [21] }] }, request, 'Asia/Tokyo')).toBe(true);
  });

  it('a restricted attribute the request does not carry does not match', () => {
    const bare = bidAttributes({});
    expect(matches({ geo: ['USA'] }, bare)).toBe(false);
    expect(matches({ deviceTypes: [4] }, bare)).toBe(false);
    expect(matches({ os: ['ios'] }, bare)).toBe(false);
    expect(matches({ sites: ['news.example'] }, bare)).toBe(false);
    expect(matches({ segments: ['sports'] }, bare)).toBe(false);
    expect(matches({ frequencyCapPerDay: 3 }, bare)).toBe(true);
  });

  it('absent targeting, or one that restricts nothing, matches everything and is kept as null', () => {
    expect(campaign('a', null).targeting).toBeNull();
    expect(campaign('b', {}).targeting).toBeNull();
    expect(campaign('c', { geo: null, os: null }).targeting).toBeNull();
    expect(new TargetingIndex([campaign('a', null)]).matching(bidAttributes({}), 0)).toHaveLength(1);
  });
});

describe('targeting validation', () => {
  it.each([
    [{ geo: ['UK'] }, 'geo'],
    [{ geo: ['XYZ'] }, 'geo'],
    [{ geo: [] }, 'geo'],
    [{ deviceTypes: [0] }, 'deviceTypes'],
    [{ deviceTypes: [8] }, 'deviceTypes'],
    [{ deviceTypes: [1.5] }, 'deviceTypes'],
    [{ os: [''] }, 'os'],
    [{ sites: ['x'.repeat(257)] }, 'sites'],
    [{ segments: Array.from({ length: 1001 }, (_, i) => `s${i}`) }, 'segments'],
    [{ dayparts: [{ weekdays: [0], hours: [1] }] }, 'dayparts[0].weekdays'],
    [{ dayparts: [{ weekdays: [1], hours: [24] }] }, 'dayparts[0].hours'],
    [{ dayparts: [] }, 'dayparts'],
    [{ frequencyCapPerDay: 0 }, 'frequencyCapPerDay'],
    [{ frequencyCapPerDay: 2.5 }, 'frequencyCapPerDay'],
  ] as const)('%j is refused at %s', (input, path) => {
    const issues = targetingIssues(input as unknown as TargetingInput);
    expect(issues.map((i) => i.path)).toEqual([path]);
    expect(() => campaign('x', input as unknown as TargetingInput)).toThrow(/targeting\./);
  });

  it('normalises: upper-case countries, lower-case os, sorted without duplicates', () => {
    const t = normaliseTargeting({ geo: ['usa', 'CAN', 'USA'], os: ['iOS', 'ios'], deviceTypes: [5, 4, 5] });
    expect([t.geo, t.os, t.deviceTypes]).toEqual([['CAN', 'USA'], ['ios'], [4, 5]]);
  });
});

// --- the index against the brute-force filter --------------------------------------------

const COUNTRIES = ['USA', 'CAN', 'DEU', 'FRA'];
const OSES = ['ios', 'android', 'windows'];
const SITES = ['a.example', 'b.example', 'c.example'];
const APPS = ['com.one', 'com.two'];
const SEGMENTS = ['s1', 's2', 's3', 's4'];
const ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Adelaide'];

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
const someOf = <T>(values: readonly T[]) => fc.uniqueArray(fc.constantFrom(...values), { minLength: 1 });

const targetingArb: fc.Arbitrary<TargetingInput | null> = maybe(
  fc.record({
    geo: maybe(someOf(COUNTRIES)),
    deviceTypes: maybe(someOf([1, 2, 3, 4, 5, 6, 7])),
    os: maybe(someOf(OSES)),
    apps: maybe(someOf(APPS)),
    sites: maybe(someOf(SITES)),
    segments: maybe(someOf(SEGMENTS)),
    dayparts: maybe(
      fc.array(
        fc.record({
          weekdays: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
          hours: fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 24 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    ),
    frequencyCapPerDay: maybe(fc.integer({ min: 1, max: 5 })),
  }),
);

const attributesArb: fc.Arbitrary<BidAttributes> = fc
  .record({
    country: maybe(fc.constantFrom(...COUNTRIES, 'GBR')),
    deviceType: maybe(fc.integer({ min: 1, max: 7 })),
    os: maybe(fc.constantFrom(...OSES, 'linux')),
    app: maybe(fc.constantFrom(...APPS)),
    site: maybe(fc.constantFrom(...SITES)),
    segments: fc.uniqueArray(fc.constantFrom(...SEGMENTS, 's9')),
  })
  .map((r) => bidAttributes(r));

describe('TargetingIndex', () => {
  it('finds exactly the campaigns the brute-force filter finds', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(targetingArb, fc.constantFrom(...ZONES)), { minLength: 0, maxLength: 80 }),
        fc.array(attributesArb, { minLength: 1, maxLength: 5 }),
        // Any instant in 2024: dayparts then cross weekdays, DST changes and half-hour zones.
        fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2025, 0, 1) }),
        (specs, requests, nowMs) => {
          const campaigns = specs.map(([t, zone], i) => campaign(`c${i}`, t, zone));
          const index = new TargetingIndex(campaigns);
          for (const a of requests) {
            const expected = campaigns
              .filter((c) => matchesTargeting(c.targeting, a, weekHourAt(c.timeZone, nowMs)))
              .map((c) => c.id);
            expect(index.matching(a, nowMs).map((c) => c.id)).toEqual(expected);
          }
        },
      ),
      { seed: 15, numRuns: 300 },
    );
  });

  it('works past 32 campaigns per word and with 10,000 campaigns', () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      campaign(`c${i}`, i % 3 === 0 ? { geo: [COUNTRIES[i % 4]!] } : { os: [OSES[i % 3]!] }),
    );
    const index = new TargetingIndex(many);
    const a = bidAttributes({ country: 'USA', os: 'android' });
    const expected = many.filter((c) => matchesTargeting(c.targeting, a, 0)).map((c) => c.id);
    expect(expected.length).toBeGreaterThan(1000);
    expect(index.matching(a, MONDAY_NOON_UTC).map((c) => c.id)).toEqual(expected);
  });
});

describe('weekHourAt', () => {
  it('counts from Monday 00:00 local', () => {
    expect(weekHourAt('UTC', MONDAY_NOON_UTC)).toBe(12);
    expect(weekHourAt('America/New_York', MONDAY_NOON_UTC)).toBe(8);
    // Sunday 23:30 UTC is hour 167; in Kolkata (+5:30) it is Monday 05:00.
    const sunday = Date.UTC(2024, 5, 2, 23, 30);
    expect(weekHourAt('UTC', sunday)).toBe(167);
    expect(weekHourAt('Asia/Kolkata', sunday)).toBe(5);
  });
});
