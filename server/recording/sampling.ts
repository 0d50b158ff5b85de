import { hashUnit } from '../runtime/random';

/**
 * Which rows a sampled recording keeps. The draw is a hash of the request id, so a request's
 * decisions (every candidate of a batch) and its win notice are kept or dropped together, and a
 * replay of the same traffic samples the same rows. A row without a request id hashes its own key
 * (the event id of a notice): it is sampled fairly but alone.
 */
export function keepRow(key: string, sample: number): boolean {
  if (sample >= 1) return true;
  if (sample <= 0) return false;
  // A prefix keeps this draw apart from the decision coin, which hashes the id with the campaign.
  return hashUnit(`record\u0000${key}`) < sample;
}

/** How many rows one kept row stands for: sums of weights estimate the unsampled totals. */
export function sampleWeight(sample: number): number {
  return sample > 0 ? 1 / sample : 0;
}
