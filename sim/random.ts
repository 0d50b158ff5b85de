import seedrandom from 'seedrandom';

/** Uniform draws in [0, 1). */
export type Rand = () => number;

/**
 * One named, independent stream per purpose (arrivals, market, throttling, delays ...), all derived
 * from the run seed. Separate streams keep the bid stream identical across the algorithms compared:
 * what an algorithm decides never shifts the draws of the traffic it sees.
 */
export function randStream(seed: number, purpose: string): Rand {
  return seedrandom.alea(`${seed}/${purpose}`) as Rand;
}

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - pLow) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return (
      -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/**
 * A distribution sampled by inverse transform through a precomputed quantile table, so a draw is
 * one uniform, one multiply and one interpolation: no log, no allocation on the hot path.
 */
export class QuantileTable {
  private readonly q: Float64Array;
  private readonly last: number;

  constructor(quantile: (p: number) => number, size = 4096) {
    this.q = new Float64Array(size + 1);
    for (let i = 0; i <= size; i++) {
      // The outermost knots use the middle of their cell so infinite tails stay finite.
      const p = i === 0 ? 0.5 / size : i === size ? 1 - 0.5 / size : i / size;
      this.q[i] = quantile(p);
    }
    this.last = size;
  }

  sample(u: number): number {
    const x = u * this.last;
    const i = x | 0;
    const a = this.q[i]!;
    return a + (this.q[i + 1]! - a) * (x - i);
  }

  /** Mean of g(X) by the midpoint rule over the table: planning, not the hot path. */
  expect(g: (x: number) => number, steps = 4096): number {
    let s = 0;
    for (let i = 0; i < steps; i++) s += g(this.sample((i + 0.5) / steps));
    return s / steps;
  }
}

export function lognormalTable(median: number, sigma: number, max = Number.POSITIVE_INFINITY): QuantileTable {
  return new QuantileTable((p) => Math.min(max, median * Math.exp(sigma * normalQuantile(p))));
}

/**
 * Vose's alias table: draws index i with probability w[i] / sum(w) from two uniforms.
 */
export class AliasTable {
  readonly prob: Float64Array;
  readonly alias: Int32Array;
  readonly n: number;

  constructor(weights: readonly number[]) {
    const n = weights.length;
    if (n === 0) throw new RangeError('alias table needs at least one weight');
    this.n = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let sum = 0;
    for (const w of weights) sum += w;
    if (!(sum > 0)) throw new RangeError('alias table weights must sum above 0');
    const scaled = weights.map((w) => (w * n) / sum);
    const small: number[] = [];
    const large: number[] = [];
    scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.prob[s] = scaled[s]!;
      this.alias[s] = l;
      scaled[l] = scaled[l]! + scaled[s]! - 1;
      (scaled[l]! < 1 ? small : large).push(l);
    }
    for (const i of large) this.prob[i] = 1;
    for (const i of small) this.prob[i] = 1;
  }

  sample(u1: number, u2: number): number {
    const i = (u1 * this.n) | 0;
    return u2 < this.prob[i]! ? i : this.alias[i]!;
  }
}

/** Poisson counts by inversion over a precomputed CDF (small means: candidates per request). */
export class PoissonTable {
  private readonly cdf: Float64Array;

  constructor(mean: number) {
    const cdf: number[] = [];
    let p = Math.exp(-mean);
    let acc = p;
    cdf.push(acc);
    for (let k = 1; acc < 1 - 1e-12 && k < 1000; k++) {
      p *= mean / k;
      acc += p;
      cdf.push(acc);
    }
    this.cdf = Float64Array.from(cdf);
  }

  sample(u: number): number {
    const cdf = this.cdf;
    let k = 0;
    while (k < cdf.length - 1 && u > cdf[k]!) k++;
    return k;
  }
}

/** murmur3's 32-bit finaliser: a well-mixed hash of a 32-bit integer. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A uniform in [0, 1) keyed by (key, index): counter-based, so draws for index i do not depend on
 * whether draws for other indices were made.
 */
export function hashUniform(key: number, index: number): number {
  return mix32(mix32((index >>> 0) ^ key) ^ ((index / 4294967296) >>> 0)) / 4294967296;
}
