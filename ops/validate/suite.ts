import { type CheckResult, fail, guarded } from '../checkTable';
import { breakerRecovers, breakerTrips } from './breakerChecks';
import { budgetTrackingExact, concurrentSpends } from './budgetChecks';
import type { ValidationContext } from './context';
import { pacingModes } from './pacingChecks';
import { connectivity, decisionLatency, persistence, skipped } from './serviceChecks';

/**
 * The validation suite against a running deployment, in order; a check that throws fails with
 * its cause and the others still run. Campaigns it made are deleted at the end.
 */
export async function runSuite(ctx: ValidationContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const reachable = await guarded('connectivity', () => connectivity(ctx));
  results.push(reachable);
  if (reachable.verdict === 'FAIL') {
    for (const n of [
      'p99 decision latency',
      'budget tracking exact',
      'breaker trips at the ratio',
      'pacing modes behave',
      'concurrent spends',
      'recovery',
      'persistence',
    ]) {
      results.push(skipped(n, 'the deployment is not reachable'));
    }
    return results;
  }
  results.push(await guarded('p99 decision latency', () => decisionLatency(ctx)));
  results.push(await guarded('budget tracking exact', () => budgetTrackingExact(ctx)));
  let tripped: string | null = null;
  results.push(
    await guarded('breaker trips at the ratio', async () => {
      const r = await breakerTrips(ctx);
      tripped = r.campaignId;
      return r.result;
    }),
  );
  results.push(await guarded('pacing modes behave', () => pacingModes(ctx)));
  results.push(await guarded('concurrent spends', () => concurrentSpends(ctx)));
  results.push(await guarded('recovery', () => breakerRecovers(ctx, tripped)));
  results.push(await guarded('persistence', () => persistence(ctx)));
  const left = await ctx.cleanUp();
  if (left.length > 0) results.push(fail('clean-up', `could not delete ${left.join(', ')}`));
  return results;
}
