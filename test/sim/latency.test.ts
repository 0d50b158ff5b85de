import { describe, expect, it } from 'vitest';
import { impressionCostMicros } from '../../core/index';
import { runScenario } from '../../sim/run';
import { ScenarioError } from '../../sim/scenario';
import { smallScenario } from './fixtures';

const base = { algorithms: ['EVEN'], faults: { outages: [] } };
const latent = {
  algorithms: ['EVEN'],
  faults: { outages: [], latency: { meanMs: 4000, jitterMs: 1000 } },
};

describe('store latency (2 instances, every store call answered 3-5 s late)', async () => {
  const [plain, slow] = await Promise.all([
    runScenario(smallScenario(base)),
    runScenario(smallScenario(latent)),
  ]);
  const p = plain.summary.algorithms[0]!;
  const s = slow.summary.algorithms[0]!;

  it('delays store calls and makes the instances’ view of the day’s spend staler', () => {
    expect(p.latency).toBeUndefined();
    expect(s.latency!.delayedStoreCalls).toBeGreaterThan(10_000);
    const t = plain.runs[0]!.totals;
    const lagPlain = t.viewLagMicros / t.viewLagSamples;
    expect(s.latency!.meanViewLagMicros).toBeGreaterThan(lagPlain * 1.2);
  });

  it('keeps totals exact and overspend within the bound', () => {
    const run = slow.runs[0]!;
    expect(Array.from(run.storeSpendMicros)).toEqual(Array.from(run.spendMicros));
    expect(Array.from(run.storeAfterRunMicros)).toEqual(Array.from(run.spendAfterRunMicros));
    expect(s.spendLostMicros).toBe(0);
    expect(s.spendDoubleCountedMicros).toBe(0);
    expect(s.overspentBeyondBound).toBe(0);
    for (const r of slow.campaignDays['EVEN']!) {
      const c = slow.campaigns.find((x) => x.id === r.campaignId)!;
      expect(r.spendMicros - r.budgetMicros).toBeLessThanOrEqual(2 * impressionCostMicros(c.bidCpmMicros));
    }
  });

  it('reproduces byte for byte from its seed', async () => {
    const again = await runScenario(smallScenario(latent));
    expect(JSON.stringify(again.summary)).toBe(JSON.stringify(slow.summary));
    expect(JSON.stringify(again.campaignDays)).toBe(JSON.stringify(slow.campaignDays));
  });

  it('still reconciles an outage inside a latency window', async () => {
    const r = await runScenario(
      smallScenario({
        algorithms: ['EVEN'],
        faults: {
          outages: [{ at: '20:00', durationMs: 300_000 }],
          latency: { fromMs: 19 * 3_600_000, toMs: 21 * 3_600_000, meanMs: 800, jitterMs: 200 },
        },
      }),
    );
    const a = r.summary.algorithms[0]!;
    expect(a.spendLostMicros).toBe(0);
    expect(a.spendDoubleCountedMicros).toBe(0);
    expect(a.outagesReconciled).toBe(1);
    expect(a.latency!.delayedStoreCalls).toBeGreaterThan(0);
  });
});

describe('latency validation', () => {
  const problems = (latency: unknown): string[] => {
    try {
      smallScenario({ faults: { outages: [], latency } });
    } catch (err) {
      if (err instanceof ScenarioError) return [...err.problems];
      throw err;
    }
    return [];
  };

  it('names the field of each problem', () => {
    expect(problems({ meanMs: 10, jitterMs: 20 })).toEqual([
      '/faults/latency/jitterMs: must be <= meanMs (a delay is never negative)',
    ]);
    expect(problems({ meanMs: 10, fromMs: 5000, toMs: 5000 })).toEqual([
      '/faults/latency/toMs: must be after fromMs',
    ]);
    expect(problems({ meanMs: 10, toMs: 86_400_001 })).toEqual([
      '/faults/latency/toMs: the run is only 86400000 ms long',
    ]);
    expect(problems({ jitterMs: 1 })).toEqual(["/faults/latency: must have required property 'meanMs'"]);
  });

  it('fills the window with the whole run by default', () => {
    expect(smallScenario(latent).faults.latency).toEqual({
      fromMs: 0,
      toMs: 86_400_000,
      meanMs: 4000,
      jitterMs: 1000,
    });
    expect(smallScenario(base).faults.latency).toBeUndefined();
  });
});
