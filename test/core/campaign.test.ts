import { describe, expect, it } from 'vitest';
import {
  type CampaignInput,
  CampaignValidationError,
  campaignIssues,
  makeCampaign,
} from '../../core/campaign';

const ok: CampaignInput = { id: 'camp-001', dailyBudgetMicros: 10_000_000_000 };

describe('campaign validation', () => {
  it('fills defaults and freezes', () => {
    const c = makeCampaign(ok);
    expect(c).toMatchObject({
      name: 'camp-001',
      status: 'ACTIVE',
      timeZone: 'UTC',
      pacingMode: 'EVEN',
      totalBudgetMicros: null,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each<[string, Partial<CampaignInput>, string, string]>([
    ['bad id', { id: ' x' }, 'id', 'INVALID_ID'],
    ['zero budget', { dailyBudgetMicros: 0 }, 'dailyBudgetMicros', 'INVALID_BUDGET'],
    ['fractional micros', { dailyBudgetMicros: 1.5 }, 'dailyBudgetMicros', 'INVALID_BUDGET'],
    ['negative total', { totalBudgetMicros: -5 }, 'totalBudgetMicros', 'INVALID_BUDGET'],
    ['flight backwards', { flightStartMs: 10, flightEndMs: 5 }, 'flightEndMs', 'FLIGHT_ENDS_BEFORE_START'],
    ['bad zone', { timeZone: 'Mars/Base' }, 'timeZone', 'INVALID_TIME_ZONE'],
    ['bad mode', { pacingMode: 'FAST' as never }, 'pacingMode', 'INVALID_PACING_MODE'],
    [
      '23 multipliers',
      { hourlyMultipliers: new Array(23).fill(1) },
      'hourlyMultipliers',
      'INVALID_MULTIPLIERS',
    ],
    [
      'all-zero multipliers',
      { hourlyMultipliers: new Array(24).fill(0) },
      'hourlyMultipliers',
      'INVALID_MULTIPLIERS',
    ],
    [
      'negative multiplier',
      { hourlyMultipliers: [-1, ...new Array(23).fill(1)] },
      'hourlyMultipliers',
      'INVALID_MULTIPLIERS',
    ],
    ['zero max bid', { maxBidCpmMicros: 0 }, 'maxBidCpmMicros', 'INVALID_MAX_BID'],
    ['bad status', { status: 'LIVE' as never }, 'status', 'INVALID_STATUS'],
  ])('%s is reported at its path with a stable code', (_name, patch, path, code) => {
    const issues = campaignIssues({ ...ok, ...patch });
    expect(issues).toContainEqual(expect.objectContaining({ path, code }));
    expect(() => makeCampaign({ ...ok, ...patch })).toThrow(CampaignValidationError);
  });
});
