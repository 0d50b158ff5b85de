import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PacerConfig, PacingMode } from '../../core/index';
import { runScenario } from '../run';
import { type Scenario, loadScenario } from '../scenario';
import { type ScoreRow, scoreRow } from './baseline';

export const CHECK_DIR = resolve(import.meta.dirname, '../../scenarios/check');
export const BASELINE_PATH = join(CHECK_DIR, 'baseline.json');

/** Pacer config fields the gate can lay over every scenario (to prove it catches a regression). */
export type PacerOverride = Partial<
  Pick<PacerConfig, 'tickMs' | 'catchUpTicks' | 'rateHalfLifeMs' | 'dualStepSize'>
>;
export const OVERRIDABLE = ['tickMs', 'catchUpTicks', 'rateHalfLifeMs', 'dualStepSize'] as const;

/** The suite: every scenarios/check/*.yaml, in name order. */
export function suitePaths(dir = CHECK_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

function withPacer(s: Scenario, o: PacerOverride): Scenario {
  return Object.keys(o).length === 0 ? s : { ...s, pacer: { ...s.pacer, ...o } };
}

export type SuiteScores = Record<string, Partial<Record<PacingMode, ScoreRow>>>;

/** Runs every scenario of the suite with its own seed; scenario name -> algorithm -> watched scores. */
export async function runSuite(paths: readonly string[], pacer: PacerOverride = {}): Promise<SuiteScores> {
  const out: SuiteScores = {};
  for (const p of paths) {
    const scenario = withPacer(loadScenario(p), pacer);
    // The gate runs in CI: it asserts the engine's invariants after every event as well.
    const result = await runScenario(scenario, { checkInvariants: true });
    const rows: Partial<Record<PacingMode, ScoreRow>> = {};
    for (const a of result.summary.algorithms) rows[a.algorithm] = scoreRow(a);
    out[scenario.name] = rows;
  }
  return out;
}
