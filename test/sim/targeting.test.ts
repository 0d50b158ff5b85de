import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/run';
import { ScenarioError } from '../../sim/scenario';
import { smallScenario } from './fixtures';

/**
 * A scenario with targeting: requests come 90% from the USA and 10% from Germany, and three
 * campaigns are targeted through core's targeting index. Candidate draws use their own stream,
 * so an untargeted campaign meets exactly the same requests with or without targeting.
 */
const targeting = {
  requests: {
    geo: [
      { value: 'USA', weight: 9 },
      { value: 'DEU', weight: 1 },
    ],
    deviceTypes: [{ value: 4, weight: 1 }],
    segments: [{ value: 'sports', share: 0.5 }],
  },
  campaigns: [
    { ids: ['c01'], geo: ['DEU'] },
    { ids: ['c02'], geo: ['FRA'] },
    { ids: ['c03'], dayparts: [{ weekdays: [1, 2, 3, 4, 5, 6, 7], hours: [0, 1, 2, 3, 4, 5] }] },
    { ids: ['c04'], segments: ['sports'], deviceTypes: [4] },
  ],
};
const base = { algorithms: ['EVEN'], faults: { outages: [] } };

describe('simulator with targeting', async () => {
  const plain = (await runScenario(smallScenario(base))).runs[0]!;
  const targeted = (await runScenario(smallScenario({ ...base, targeting }))).runs[0]!;
  const candidates = (run: typeof plain, c: number) => run.candidates[c]!;

  it('a campaign meets only the requests its targeting matches', () => {
    const deShare = candidates(targeted, 0) / candidates(plain, 0);
    expect(deShare).toBeGreaterThan(0.07);
    expect(deShare).toBeLessThan(0.13);
    const sportsShare = candidates(targeted, 3) / candidates(plain, 3);
    expect(sportsShare).toBeGreaterThan(0.45);
    expect(sportsShare).toBeLessThan(0.55);
    // Nobody comes from France: no candidate, no spend.
    expect([candidates(targeted, 1), targeted.spendMicros[1]]).toEqual([0, 0]);
  });

  it('dayparts hold on the simulated clock: no bid after 06:00', () => {
    const m = targeted.minutes;
    let lateSpend = 0;
    // Win notices take up to lateDelayMsMax (300 s) to arrive: spend may be booked until 06:05.
    for (let minute = 6 * 60 + 6; minute < m; minute++) lateSpend += targeted.spendPerMinute[2 * m + minute]!;
    expect(lateSpend).toBe(0);
    expect(targeted.spendMicros[2]).toBeGreaterThan(0);
  });

  it('leaves untargeted campaigns meeting the same requests', () => {
    for (let c = 4; c < 10; c++) expect(candidates(targeted, c)).toBe(candidates(plain, c));
  });

  it('reproduces byte for byte from the seed', async () => {
    const again = (await runScenario(smallScenario({ ...base, targeting }))).summary;
    expect(JSON.stringify(again)).toBe(
      JSON.stringify((await runScenario(smallScenario({ ...base, targeting }))).summary),
    );
  });

  it('refuses a bad country, a campaign targeted twice, and an unknown campaign', async () => {
    expect(() =>
      smallScenario({ targeting: { ...targeting, campaigns: [{ ids: ['c01'], geo: ['XYZ'] }] } }),
    ).toThrow(/targeting\/campaigns\/0\/geo/);
    expect(() =>
      smallScenario({
        targeting: { ...targeting, campaigns: [{ ids: ['c01'] }, { ids: ['c01'], geo: ['USA'] }] },
      }),
    ).toThrow(/targeted twice/);
    const unknown = smallScenario({
      ...base,
      targeting: { ...targeting, campaigns: [{ ids: ['zz'], geo: ['USA'] }] },
    });
    await expect(runScenario(unknown)).rejects.toMatchObject({ code: 'SIM_ERR_BAD_SCENARIO' });
    expect(() => smallScenario({ targeting: { requests: { geo: [{ value: 'usa', weight: 1 }] } } })).toThrow(
      ScenarioError,
    );
  });
});
