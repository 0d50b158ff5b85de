import { errorFunction } from 'simple-statistics';
import { type Rand, normalQuantile } from '../random';

/** A lognormal market price (CPM micros): log price ~ Normal(mu, sigma). */
export interface PriceModel {
  readonly mu: number;
  readonly sigma: number;
}

const SIGMA_FLOOR = 0.01;

function phi(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

function bigPhi(x: number): number {
  return 0.5 * (1 + errorFunction(x / Math.SQRT2));
}

/** E[Z | Z > a] for a standard normal (the inverse Mills ratio), stable far in the tail. */
function millsAbove(a: number): number {
  if (a > 8) return a + 1 / a;
  return phi(a) / Math.max(1e-300, 1 - bigPhi(a));
}

/**
 * Fits the lognormal market price from what a pacer sees: the prices of the bids that won
 * (observed) and the bids that were allowed and lost (the price was above the bid: right-censored).
 * Fitting on the wins alone would put the market below every bid; EM with the censored bids moves
 * it up by what the losses say. A few dozen iterations settle it to well within a micro.
 */
export function fitCensoredLognormal(wonPrices: readonly number[], lostBids: readonly number[]): PriceModel {
  const obs = wonPrices.map((p) => Math.log(Math.max(1, p)));
  const cen = lostBids.map((b) => Math.log(Math.max(1, b)));
  const n = obs.length + cen.length;
  let mu = obs.reduce((a, b) => a + b, 0) / obs.length;
  let sigma = Math.max(SIGMA_FLOOR, Math.sqrt(obs.reduce((a, x) => a + (x - mu) ** 2, 0) / obs.length));
  for (let iter = 0; iter < 60 && cen.length > 0; iter++) {
    let s1 = 0;
    let s2 = 0;
    for (const x of obs) {
      s1 += x;
      s2 += x * x;
    }
    for (const c of cen) {
      const lambda = millsAbove((c - mu) / sigma);
      s1 += mu + sigma * lambda;
      s2 += mu * mu + sigma * sigma + sigma * (c + mu) * lambda;
    }
    mu = s1 / n;
    sigma = Math.max(SIGMA_FLOOR, Math.sqrt(Math.max(0, s2 / n - mu * mu)));
  }
  return { mu, sigma };
}

/** A price drawn from the model, or from its part above `aboveCpm` when that is >= 0. */
export function drawPrice(m: PriceModel, rand: Rand, aboveCpm: number): number {
  const u = rand();
  if (aboveCpm < 0) return Math.max(1, Math.round(Math.exp(m.mu + m.sigma * normalQuantile(u))));
  const floor = bigPhi((Math.log(Math.max(1, aboveCpm)) - m.mu) / m.sigma);
  const p = floor + u * (1 - floor);
  const x = p >= 1 - 1e-12 ? Number.POSITIVE_INFINITY : Math.exp(m.mu + m.sigma * normalQuantile(p));
  // Strictly above the bid: it lost, so the market price was higher.
  return Number.isFinite(x)
    ? Math.max(aboveCpm + 1, Math.round(x))
    : aboveCpm + 1 + Math.round(aboveCpm * 0.01);
}

/** The model's CPM at `q` of its distribution (the plan's expected costs, the summary's median). */
export function priceQuantile(m: PriceModel, q: number): number {
  return Math.exp(m.mu + m.sigma * normalQuantile(q));
}
