import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/run';
import { ScenarioError, loadScenario } from '../../sim/scenario';
import { SCENARIOS, smallScenario } from './fixtures';

/** Every campaign in every auction, first price: BudgetPacingSimulation's marketplace, small. */
const market = (pricing: 'first' | 'second' = 'first') =>
  smallScenario({
    algorithms: ['EVEN'],
    market: { pricing, candidates: 'all' },
    faults: { outages: [] },
  });

describe('a marketplace: every campaign competes in every auction', async () => {
  const result = await runScenario(market());
  const run = result.runs[0]!;
  const s = result.summary.algorithms[0]!;

  it('asks the pacer for every campaign on every request', () => {
    expect(run.totals.decisions).toBe(run.totals.requests * result.campaigns.length);
    for (let c = 0; c < result.campaigns.length; c++) expect(run.candidates[c]).toBe(run.totals.requests);
    expect(result.campaigns.every((c) => c.participation === 1)).toBe(true);
    expect(result.summary.scenario).toMatchObject({ pricing: 'first', candidates: 'all' });
  });

  it('paces the budgets it is given without losing spend', () => {
    expect(s.spendLostMicros).toBe(0);
    expect(s.utilisationMeanConstrained).toBeGreaterThan(0.9);
    expect(s.overspentBeyondBound).toBe(0);
  });

  it('charges the bid under first price, less under second', async () => {
    const second = await runScenario(market('second'));
    expect(s.ecpmMicros!).toBeGreaterThan(second.summary.algorithms[0]!.ecpmMicros!);
  });

  it('keeps drawing candidates by participation unless asked', () => {
    expect(smallScenario().market).toEqual({ pricing: 'second', candidates: 'participation' });
    expect(() => smallScenario({ market: { candidates: 'some' } })).toThrow(ScenarioError);
  });

  it('ships as scenarios/marketplace.yaml: 100 campaigns, first price, about 4.3M auctions a day', () => {
    const sc = loadScenario(resolve(SCENARIOS, 'marketplace.yaml'));
    expect(sc.market).toEqual({ pricing: 'first', candidates: 'all' });
    expect(sc.campaigns.generate!.count).toBe(100);
    if (sc.stream.kind !== 'synthetic') throw new Error('synthetic stream expected');
    expect(sc.stream.meanQps * 86_400).toBeCloseTo(4_320_000, -4);
  });
});
