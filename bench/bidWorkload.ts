import type { TargetingInput } from '../core/targeting/targeting';

/**
 * The targeting of the benchmark's campaigns and the attributes of its requests: deterministic
 * functions of an index, so every run (and both servers) see the same workload. Every campaign
 * targets 1-3 of 50 countries, half also an os, a third 1-5 of 100 segments, one in ten is
 * capped at 5 a day: a request matches about 1% of the campaigns (~100 of 10,000).
 */
export const BENCH_COUNTRIES = [
  'USA',
  'CAN',
  'MEX',
  'BRA',
  'ARG',
  'GBR',
  'FRA',
  'DEU',
  'ESP',
  'ITA',
  'NLD',
  'BEL',
  'CHE',
  'AUT',
  'SWE',
  'NOR',
  'DNK',
  'FIN',
  'POL',
  'CZE',
  'HUN',
  'ROU',
  'GRC',
  'TUR',
  'RUS',
  'UKR',
  'ISR',
  'EGY',
  'ZAF',
  'NGA',
  'KEN',
  'IND',
  'PAK',
  'BGD',
  'CHN',
  'JPN',
  'KOR',
  'TWN',
  'HKG',
  'SGP',
  'MYS',
  'IDN',
  'THA',
  'VNM',
  'PHL',
  'AUS',
  'NZL',
  'CHL',
  'COL',
  'PER',
];
export const BENCH_OS = ['ios', 'android', 'windows', 'macos'];
const SEGMENTS = 100;

/** A small integer hash: spreads consecutive indices over the value lists. */
function mix(i: number, salt: number): number {
  let x = (i + 1) * 2654435761 + salt * 40503;
  x = (x ^ (x >>> 15)) >>> 0;
  return Math.imul(x, 2246822519) >>> 0;
}

export function benchCampaignTargeting(i: number): TargetingInput {
  const geo = Array.from({ length: 1 + (mix(i, 1) % 3) }, (_, k) => BENCH_COUNTRIES[mix(i, 2 + k) % 50]!);
  const t: TargetingInput = { geo };
  if (mix(i, 10) % 2 === 0) t.os = [BENCH_OS[mix(i, 11) % 4]!];
  if (mix(i, 20) % 3 === 0)
    t.segments = Array.from({ length: 1 + (mix(i, 21) % 5) }, (_, k) => `seg-${mix(i, 22 + k) % SEGMENTS}`);
  if (i % 10 === 0) t.frequencyCapPerDay = 5;
  return t;
}

/** Bid request number `n`: one imp, a country, an os, five segments and a user among 100,000. */
export function benchBidRequest(n: number): object {
  return {
    id: `req-${n}`,
    imp: [{ id: '1', bidfloor: 0.5 }],
    site: { domain: `site-${mix(n, 30) % 1000}.example` },
    device: {
      devicetype: 2,
      os: BENCH_OS[mix(n, 31) % 4],
      geo: { country: BENCH_COUNTRIES[mix(n, 32) % 50] },
    },
    user: {
      id: `user-${mix(n, 33) % 100_000}`,
      data: [{ segment: Array.from({ length: 5 }, (_, k) => ({ id: `seg-${mix(n, 40 + k) % SEGMENTS}` })) }],
    },
  };
}
