import { DAY_MS } from '../../core/index';
import { type QuantileTable, type Rand, hashUniform, lognormalTable, randStream } from '../random';
import { type SyntheticStreamSpec, minutesOf } from '../scenario';
import {
  type BidRequest,
  type BidSource,
  type StreamFactory,
  type StreamPlan,
  newBidRequest,
} from './source';

const MINUTE_MS = 60_000;
const MINUTES_PER_DAY = 1440;

/**
 * Rate per minute (requests/ms): the 24-hour profile, normalised to mean 1, is read at each hour's
 * middle and interpolated linearly between them (wrapping at midnight); surges multiply on top.
 * The profile and surges are in UTC hours; the rates start at minute `fromMinuteOfDay` of a UTC
 * day (a run whose campaigns live in other zones starts at the earliest local midnight).
 */
export function minuteRates(
  spec: SyntheticStreamSpec,
  days: number,
  fromMinuteOfDay = 0,
  minutes = days * MINUTES_PER_DAY,
): Float64Array {
  const p = spec.hourlyProfile;
  const mean = p.reduce((a, b) => a + b, 0) / 24;
  const rates = new Float64Array(minutes);
  const perMs = spec.meanQps / 1000;
  for (let m = 0; m < MINUTES_PER_DAY; m++) {
    const x = (m + 0.5) / 60 - 0.5;
    const h0 = Math.floor(x);
    const w = x - h0;
    const a = p[(h0 + 24) % 24]!;
    const b = p[(h0 + 1) % 24]!;
    let r = (perMs * (a + (b - a) * w)) / mean;
    for (const s of spec.surges) if (m >= minutesOf(s.from) && m < minutesOf(s.to)) r *= s.multiplier;
    const first = (m - fromMinuteOfDay + MINUTES_PER_DAY) % MINUTES_PER_DAY;
    for (let i = first; i < minutes; i += MINUTES_PER_DAY) rates[i] = r;
  }
  return rates;
}

class SyntheticSource implements BidSource {
  readonly req: BidRequest = newBidRequest();
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

/** The synthetic stream over [startMs, endMs): `days` whole days unless `endMs` says otherwise. */
export function syntheticStream(
  spec: SyntheticStreamSpec,
  startMs: number,
  days: number,
  endMs = startMs + days * DAY_MS,
): StreamFactory {
  const fromMinute = ((startMs % DAY_MS) + DAY_MS) % DAY_MS;
  const rates = minuteRates(spec, days, fromMinute / MINUTE_MS, (endMs - startMs) / MINUTE_MS);
  const price = lognormalTable(
    spec.marketPrice.medianCpmMicros,
    spec.marketPrice.sigma,
    spec.marketPrice.maxCpmMicros,
  );
  const ctr = lognormalTable(spec.ctr.median, spec.ctr.sigma, 1);
  const perMinute = rates.map((r) => r * MINUTE_MS);
  const surges: [number, number, number][] = [];
  // Each UTC day the run touches, its surge windows cut to the run.
  for (let day = startMs - fromMinute; day < endMs; day += DAY_MS)
    for (const s of spec.surges) {
      const from = Math.max(startMs, day + minutesOf(s.from) * MINUTE_MS);
      const to = Math.min(endMs, day + minutesOf(s.to) * MINUTE_MS);
      if (from < to) surges.push([from, to, s.multiplier]);
    }
  const plan: StreamPlan = {
    startMs,
    endMs,
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
