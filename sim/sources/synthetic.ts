import { DAY_MS } from '../../core/index';
import { type QuantileTable, type Rand, hashUniform, lognormalTable, randStream } from '../random';
import { type SyntheticStreamSpec, minutesOf } from '../scenario';
import type { BidRequest, BidSource, StreamFactory, StreamPlan } from './source';

const MINUTE_MS = 60_000;
const MINUTES_PER_DAY = 1440;

/**
 * Rate per minute (requests/ms): the 24-hour profile, normalised to mean 1, is read at each hour's
 * middle and interpolated linearly between them (wrapping at midnight); surges multiply on top.
 */
export function minuteRates(spec: SyntheticStreamSpec, days: number): Float64Array {
  const p = spec.hourlyProfile;
  const mean = p.reduce((a, b) => a + b, 0) / 24;
  const rates = new Float64Array(days * MINUTES_PER_DAY);
  const perMs = spec.meanQps / 1000;
  for (let m = 0; m < MINUTES_PER_DAY; m++) {
    const x = (m + 0.5) / 60 - 0.5;
    const h0 = Math.floor(x);
    const w = x - h0;
    const a = p[(h0 + 24) % 24]!;
    const b = p[(h0 + 1) % 24]!;
    let r = (perMs * (a + (b - a) * w)) / mean;
    for (const s of spec.surges) if (m >= minutesOf(s.from) && m < minutesOf(s.to)) r *= s.multiplier;
    for (let d = 0; d < days; d++) rates[d * MINUTES_PER_DAY + m] = r;
  }
  return rates;
}

class SyntheticSource implements BidSource {
  readonly req: BidRequest = {
    timeMs: 0,
    marketPriceCpmMicros: 0,
    pctr: 0,
    click: -1,
    campaign: -1,
    bidCpmMicros: -1,
    value: -1,
    recordedPrice: false,
  };
  private minute = 0;
  private t: number;
  private index = -1;
  private readonly priceKey: number;
  private readonly ctrKey: number;

  constructor(
    private readonly startMs: number,
    private readonly rates: Float64Array,
    private readonly price: QuantileTable,
    private readonly ctr: QuantileTable,
    private readonly arrivals: Rand,
    keys: Rand,
  ) {
    this.t = startMs;
    this.priceKey = Math.floor(keys() * 4294967296) >>> 0;
    this.ctrKey = Math.floor(keys() * 4294967296) >>> 0;
  }

  next(): boolean {
    const rates = this.rates;
    const n = rates.length;
    let t = this.t;
    let minute = this.minute;
    // Non-homogeneous Poisson: exponential gaps at the minute's rate; at a minute boundary the
    // memoryless property lets the next minute start afresh from the boundary.
    for (;;) {
      if (minute >= n) {
        this.minute = minute;
        return false;
      }
      const r = rates[minute]!;
      const end = this.startMs + (minute + 1) * MINUTE_MS;
      if (r > 0) {
        t -= Math.log(1 - this.arrivals()) / r;
        if (t < end) break;
      }
      minute++;
      t = end;
    }
    this.t = t;
    this.minute = minute;
    this.index++;
    this.req.timeMs = t;
    return true;
  }

  fill(): void {
    const req = this.req;
    const price = Math.round(this.price.sample(hashUniform(this.priceKey, this.index)));
    req.marketPriceCpmMicros = price > 1 ? price : 1;
    req.pctr = this.ctr.sample(hashUniform(this.ctrKey, this.index));
  }
}

export function syntheticStream(spec: SyntheticStreamSpec, startMs: number, days: number): StreamFactory {
  const rates = minuteRates(spec, days);
  const price = lognormalTable(
    spec.marketPrice.medianCpmMicros,
    spec.marketPrice.sigma,
    spec.marketPrice.maxCpmMicros,
  );
  const ctr = lognormalTable(spec.ctr.median, spec.ctr.sigma, 1);
  const perMinute = rates.map((r) => r * MINUTE_MS);
  const surges: [number, number, number][] = [];
  for (let d = 0; d < days; d++)
    for (const s of spec.surges)
      surges.push([
        startMs + d * DAY_MS + minutesOf(s.from) * MINUTE_MS,
        startMs + d * DAY_MS + minutesOf(s.to) * MINUTE_MS,
        s.multiplier,
      ]);
  const plan: StreamPlan = {
    startMs,
    endMs: startMs + days * DAY_MS,
    expectedRequests: perMinute.reduce((a, b) => a + b, 0),
    expectedPerMinute: perMinute,
    expectedCostPerRequestMicros: (bid, pricing) =>
      price.expect((m) => (m <= bid ? (pricing === 'first' ? bid : m) / 1000 : 0)),
    surges,
  };
  return {
    plan,
    open: (seed) =>
      new SyntheticSource(
        startMs,
        rates,
        price,
        ctr,
        randStream(seed, 'arrivals'),
        randStream(seed, 'request'),
      ),
  };
}
