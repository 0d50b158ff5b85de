import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { type Scenario, scenarioFrom } from '../../sim/scenario';

export const SCENARIOS = resolve(import.meta.dirname, '../../scenarios');

/** A small scenario: 10 campaigns, 2 instances, a surge and a store outage inside it. Runs in ~1 s. */
export function smallScenario(overrides: Record<string, unknown> = {}): Scenario {
  return scenarioFrom(
    {
      name: 'small',
      seed: 7,
      algorithms: ['EVEN', 'ASAP'],
      instances: { count: 2, syncIntervalMs: 5000 },
      stream: {
        kind: 'synthetic',
        meanQps: 5,
        surges: [{ from: '18:00', to: '22:00', multiplier: 5 }],
        marketPrice: { medianCpmMicros: 800000, sigma: 0.5 },
      },
      winNotices: { lateShare: 0.01 },
      campaigns: {
        generate: {
          count: 10,
          budgetMicros: { min: 100000, max: 1000000 },
          bidCpmMicros: { min: 900000, max: 3000000 },
          fullPassToBudget: { min: 12, max: 30 },
        },
      },
      faults: { outages: [{ at: '20:00', durationMs: 300000 }] },
      thresholds: { minAccuracy: { EVEN: 0.97 }, maxSpendLostMicros: 0, maxOverspentCampaignDays: 0 },
      ...overrides,
    },
    'small (test)',
    resolve(SCENARIOS, 'small.yaml'),
  );
}

/**
 * friday.yaml at a fifth of its scale: the same shape (profile, 5x surge, late notices, 100
 * campaigns, 90 budget-constrained) with a fifth of the traffic and a fifth of the budgets, so
 * every campaign keeps its full-pass-to-budget ratio.
 */
export function fridayLite(): Scenario {
  const path = resolve(SCENARIOS, 'friday.yaml');
  const raw = parse(readFileSync(path, 'utf8'));
  raw.stream.meanQps /= 5;
  const b = raw.campaigns.generate.budgetMicros;
  raw.campaigns.generate.budgetMicros = { min: b.min / 5, max: b.max / 5 };
  return scenarioFrom(raw, 'friday.yaml at 1/5 scale', path);
}

/** A CLI's stdout/stderr captured into arrays, as a non-terminal. */
export function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), isTty: false },
  };
}
