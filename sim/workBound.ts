import { ScenarioError } from './scenario';
import type { StreamPlan } from './sources/source';

/**
 * Most bid requests one algorithm run may be expected to draw: 1e9, about 7 to 8 minutes per
 * algorithm on one core at the 2.1-2.4M requests/s measured in bench/results/sim-throughput.md
 * (friday.yaml draws 17.3M). A synthetic stream at the schema's maximum rate, 1M requests/s,
 * would draw 86.4 billion a day and run for hours without a word: it is refused before the run,
 * with the estimate, instead.
 */
export const MAX_EXPECTED_REQUESTS = 1_000_000_000;

/** Throws bad input when the synthetic stream's expected request count passes the limit. */
export function checkExpectedWork(plan: StreamPlan, source: string): void {
  if (plan.expectedRequests <= MAX_EXPECTED_REQUESTS) return;
  const millions = Math.round(plan.expectedRequests / 1e6).toLocaleString('en-US');
  throw new ScenarioError(source, [
    `/stream/meanQps: the stream would draw about ${millions}M bid requests per algorithm run, more than the limit of ${MAX_EXPECTED_REQUESTS / 1e6}M (at about 2M requests/s per core that is ${Math.round(plan.expectedRequests / 2e6 / 60).toLocaleString('en-US')} minutes per algorithm); lower meanQps, the surges or days`,
  ]);
}
