import { type CheckResult, fail, pass } from '../checkTable';
import { type ValidationContext, centsToMicros } from './context';

/**
 * Spend is tracked to the micro: fractional-cent notices add up exactly, a retried notice (same
 * event id) counts once, and the status shows the exact sum.
 */
export async function budgetTrackingExact(ctx: ValidationContext): Promise<CheckResult> {
  const name = 'budget tracking exact';
  const id = await ctx.createCampaign('exact', { daily_budget_cents: 100_000, pacing_mode: 'ASAP' });
  const amounts = [1.2345, 0.0001, 7, 99.9999, 0.5, 3.3333, 12.0001];
  let expectedMicros = 0;
  for (const [i, cents] of amounts.entries()) {
    const first = await ctx.spend(id, cents, `${id}-e${i}`);
    const retry = await ctx.spend(id, cents, `${id}-e${i}`);
    if (!first.counted || !retry.duplicate) {
      return fail(name, `event ${i}: first counted=${first.counted}, retry duplicate=${retry.duplicate}`);
    }
    expectedMicros += centsToMicros(cents);
  }
  const s = await ctx.status(id);
  const detail = `${amounts.length} notices sent twice each: expected ${expectedMicros} micros, status shows ${s.spent_today_micros}`;
  return s.spent_today_micros === expectedMicros ? pass(name, detail) : fail(name, detail);
}

/** Notices in flight at once: enough to interleave on every instance, few enough not to time out. */
const IN_FLIGHT = 64;

/**
 * Concurrent notices lose nothing and double-count nothing: N distinct notices and N/5 retries
 * (each retry sent to another instance than its original when several are given), IN_FLIGHT at a
 * time, add up exactly.
 */
export async function concurrentSpends(ctx: ValidationContext): Promise<CheckResult> {
  const name = 'concurrent spends';
  const n = ctx.opts.concurrentSpends;
  const id = await ctx.createCampaign('concurrent', { daily_budget_cents: 10_000_000, pacing_mode: 'ASAP' });
  const cents = 0.0137;
  const jobs: { eventId: string; client: number }[] = [];
  for (let i = 0; i < n; i++) {
    jobs.push({ eventId: `${id}-e${i}`, client: i });
    if (i % 5 === 0) jobs.push({ eventId: `${id}-e${i}`, client: i + 1 });
  }
  const outcomes: { counted: boolean; duplicate: boolean }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const client = ctx.clients[job.client % ctx.clients.length]!;
      outcomes.push(await ctx.spend(id, cents, job.eventId, client));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const counted = outcomes.filter((o) => o.counted).length;
  const expectedMicros = n * centsToMicros(cents);
  // The last instance may see other instances' spend one sync later: read where it was counted too.
  let spent = (await ctx.status(id)).spent_today_micros;
  for (let i = 0; i < 50 && spent !== expectedMicros; i++) {
    await new Promise((r) => setTimeout(r, 100));
    spent = (await ctx.status(id)).spent_today_micros;
  }
  const detail = `${jobs.length} notices, ${IN_FLIGHT} in flight at a time (${n} distinct): ${counted} counted, spend ${spent} micros of ${expectedMicros} expected`;
  return counted === n && spent === expectedMicros ? pass(name, detail) : fail(name, detail);
}
