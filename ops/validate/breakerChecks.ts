import { type CheckResult, fail, pass, skip } from '../checkTable';
import { type ValidationContext, sleep } from './context';

const BUDGET_CENTS = 100_000;

export type TripResult = { result: CheckResult; campaignId: string | null };

/**
 * classic: the breaker stays CLOSED just below the trip ratio and is OPEN just above it, denying
 * bids with reason circuit_open. precision: see precisionTrips. Returns the tripped campaign for
 * the recovery check.
 */
export async function breakerTrips(ctx: ValidationContext): Promise<TripResult> {
  return ctx.opts.breakerMode === 'precision' ? precisionTrips(ctx) : classicTrips(ctx);
}

/**
 * precision: a bid that fits is still allowed at 99% of the budget (no blackout before the end of
 * the day), and spend that outran its reservations past 100% opens the breaker and denies bids.
 */
async function precisionTrips(ctx: ValidationContext): Promise<TripResult> {
  const name = 'breaker trips at the ratio';
  const id = await ctx.createCampaign('breaker', { daily_budget_cents: BUDGET_CENTS, pacing_mode: 'ASAP' });
  const below = Math.floor(BUDGET_CENTS * 0.99);
  await ctx.spend(id, below, `${id}-below`);
  // The spend just booked may have used up this instance's lease: its next sync rounds (a few
  // hundred ms) lease what is left of the budget, so a denial for the lease is tried again. ASAP
  // throttles 90% of requests near the end of its budget: a throttled bid is a coin flip (the
  // request id's hash), tried again at once with a new id. 300 tries leave a 2e-14 chance that
  // every coin says no; 51 tries (0.5%) once failed CI.
  let beforeDecision = await ctx.decide(id, 1, `${id}-d1`);
  for (let i = 0, leaseWaits = 0; i < 300 && leaseWaits < 50; i++) {
    const reason = beforeDecision.body.reason;
    if (reason !== 'lease_exhausted' && reason !== 'throttled') break;
    if (reason === 'lease_exhausted') {
      leaseWaits++;
      await sleep(100);
    }
    beforeDecision = await ctx.decide(id, 1, `${id}-d1-${i}`);
  }
  const before = await ctx.status(id);
  if (before.breaker_state !== 'CLOSED' || !beforeDecision.body.allow_bid) {
    const why = `precision breaker: at ${pct(below)} a 1-cent CPM bid was ${beforeDecision.body.allow_bid ? 'allowed' : `denied (${beforeDecision.body.reason})`}, breaker ${before.breaker_state}; it should still bid (is the deployment's BREAKER_MODE classic? pass --breaker-mode classic)`;
    return { result: fail(name, why), campaignId: null };
  }
  // Win notices past the budget (late ones, whose reservations had expired): overspend risk.
  const above = Math.ceil(BUDGET_CENTS * 1.01) - below;
  await ctx.spend(id, above, `${id}-above`);
  const afterDecision = await ctx.decide(id, 1, `${id}-d2`);
  const after = await ctx.status(id);
  const detail = `precision: at ${pct(below)}: CLOSED, bid allowed; at ${pct(below + above)}: ${after.breaker_state}, ${afterDecision.body.reason}`;
  const tripped = after.breaker_state === 'OPEN' && !afterDecision.body.allow_bid;
  return { result: tripped ? pass(name, detail) : fail(name, detail), campaignId: tripped ? id : null };
}

async function classicTrips(ctx: ValidationContext): Promise<TripResult> {
  const name = 'breaker trips at the ratio';
  const ratio = ctx.opts.tripRatio;
  const id = await ctx.createCampaign('breaker', { daily_budget_cents: BUDGET_CENTS, pacing_mode: 'ASAP' });
  // One point below the ratio, then two above; a decision after each so any server evaluates it.
  const below = Math.floor(BUDGET_CENTS * (ratio - 0.01));
  await ctx.spend(id, below, `${id}-below`);
  const beforeDecision = await ctx.decide(id, 1, `${id}-d1`);
  const before = await ctx.status(id);
  if (before.breaker_state !== 'CLOSED' || beforeDecision.body.reason === 'circuit_open') {
    return {
      result: fail(
        name,
        `at ${pct(below)} the breaker is ${before.breaker_state} (${beforeDecision.body.reason}); it trips at ${pct(ratio * BUDGET_CENTS)}`,
      ),
      campaignId: null,
    };
  }
  const above = Math.ceil(BUDGET_CENTS * (ratio + 0.01)) - below;
  await ctx.spend(id, above, `${id}-above`);
  const afterDecision = await ctx.decide(id, 1, `${id}-d2`);
  const after = await ctx.status(id);
  const detail = `at ${pct(below)}: CLOSED, ${beforeDecision.body.reason}; at ${pct(below + above)}: ${after.breaker_state}, ${afterDecision.body.reason}`;
  const tripped =
    after.breaker_state === 'OPEN' &&
    afterDecision.body.reason === 'circuit_open' &&
    !afterDecision.body.allow_bid;
  return { result: tripped ? pass(name, detail) : fail(name, detail), campaignId: tripped ? id : null };
}

function pct(cents: number): string {
  return `${((cents / BUDGET_CENTS) * 100).toFixed(0)}%`;
}

/**
 * A tripped breaker recovers: with the budget raised, once the cool-down has passed the probes go
 * through and bidding resumes. Skipped when the cool-down is longer than the suite may wait.
 */
export async function breakerRecovers(
  ctx: ValidationContext,
  campaignId: string | null,
): Promise<CheckResult> {
  const name = 'recovery';
  if (campaignId === null) return skip(name, 'needs the campaign the breaker check tripped');
  const { cooldownMs, maxWaitMs } = ctx.opts;
  if (cooldownMs > maxWaitMs) {
    return skip(
      name,
      `breaker cool-down ${cooldownMs} ms is longer than --max-wait-ms ${maxWaitMs}: pass the deployment's BREAKER_COOLDOWN_MS as --breaker-cooldown-ms and a longer --max-wait-ms`,
    );
  }
  const raised = await ctx.client.post('/budget/adjust', {
    campaign_id: campaignId,
    daily_budget_cents: BUDGET_CENTS * 4,
  });
  if (raised.status !== 200)
    return fail(name, `POST /budget/adjust answered ${raised.status}: ${raised.text}`);
  await sleep(cooldownMs + 250);
  // The raised budget reaches the instance's lease within a few sync rounds: try for 10 s.
  const reasons = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const d = await ctx.decide(campaignId, 1, `${campaignId}-probe-${i}`);
    reasons.add(d.body.reason);
    if (d.body.allow_bid) {
      const s = await ctx.status(campaignId);
      return pass(
        name,
        `after the ${cooldownMs} ms cool-down and a budget raise: bid ${i + 1} allowed, breaker ${s.breaker_state}`,
      );
    }
    await sleep(100);
  }
  return fail(
    name,
    `no bid allowed in 10 s after the ${cooldownMs} ms cool-down: ${[...reasons].join(', ')}`,
  );
}
