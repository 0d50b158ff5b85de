import { type CheckResult, fail, pass } from '../checkTable';
import type { ValidationContext } from './context';

const BUDGET_CENTS = 100_000;
const BUDGET_MICROS = BUDGET_CENTS * 10_000;
const DAY_MS = 86_400_000;

/** The documented curves (DESIGN.md): share of the day's budget due by fraction f of the UTC day. */
const CURVES: Readonly<Record<'EVEN' | 'FRONT_LOADED', (f: number) => number>> = {
  EVEN: (f) => f,
  FRONT_LOADED: (f) => (f <= 0.5 ? 0.7 * (f / 0.5) : 0.7 + 0.3 * ((f - 0.5) / 0.5)),
};

/**
 * Each pacing mode does what it says: EVEN and FRONT_LOADED report targets on their curves at
 * this time of the UTC day (within 1% of the budget, for clock skew), ASAP has the whole budget
 * as its target and throttles at least 20% once 80% is spent, and a PAUSED campaign does not bid.
 */
export async function pacingModes(ctx: ValidationContext): Promise<CheckResult> {
  const name = 'pacing modes behave';
  const problems: string[] = [];
  const seen: string[] = [];
  for (const mode of ['EVEN', 'FRONT_LOADED'] as const) {
    const id = await ctx.createCampaign(mode.toLowerCase(), {
      daily_budget_cents: BUDGET_CENTS,
      pacing_mode: mode,
    });
    const before = Date.now();
    const s = await ctx.status(id);
    const after = Date.now();
    // The server read its clock between before and after: the target lies between theirs.
    const lo = CURVES[mode](dayFraction(before)) * BUDGET_MICROS - 0.01 * BUDGET_MICROS;
    const hi = CURVES[mode](dayFraction(after)) * BUDGET_MICROS + 0.01 * BUDGET_MICROS;
    seen.push(`${mode} target ${pctOf(s.target_spent_micros)}`);
    if (s.target_spent_micros < lo || s.target_spent_micros > hi) {
      problems.push(
        `${mode} target ${s.target_spent_micros} micros, expected ${Math.round(lo)} to ${Math.round(hi)}`,
      );
    }
  }
  const asap = await ctx.createCampaign('asap', { daily_budget_cents: BUDGET_CENTS, pacing_mode: 'ASAP' });
  const fresh = await ctx.status(asap);
  if (fresh.target_spent_micros !== BUDGET_MICROS || fresh.throttle_rate !== 0) {
    problems.push(
      `ASAP at 0% spent: target ${fresh.target_spent_micros}, throttle ${fresh.throttle_rate} (expected the budget, 0)`,
    );
  }
  await ctx.spend(asap, BUDGET_CENTS * 0.85, `${asap}-e1`);
  const spent = await ctx.status(asap);
  seen.push(`ASAP throttle ${fresh.throttle_rate} at 0%, ${spent.throttle_rate} at 85%`);
  if (spent.throttle_rate < 0.2)
    problems.push(`ASAP at 85% spent throttles ${spent.throttle_rate}, expected at least 0.2`);
  const paused = await ctx.createCampaign('paused', {
    daily_budget_cents: BUDGET_CENTS,
    pacing_mode: 'EVEN',
    status: 'PAUSED',
  });
  const d = await ctx.decide(paused, 100, `${paused}-d1`);
  seen.push(`PAUSED: ${d.body.reason}`);
  if (d.body.allow_bid || d.body.reason !== 'paused')
    problems.push(`PAUSED campaign answered allow=${d.body.allow_bid} (${d.body.reason})`);
  return problems.length === 0 ? pass(name, seen.join('; ')) : fail(name, problems.join('; '));
}

function dayFraction(ms: number): number {
  return (ms % DAY_MS) / DAY_MS;
}

function pctOf(micros: number): string {
  return `${((micros / BUDGET_MICROS) * 100).toFixed(1)}%`;
}
