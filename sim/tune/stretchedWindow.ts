import { DAY_MS, HOUR_MS } from '../../core/index';
import {
  type BidRequest,
  type BidSource,
  type StreamFactory,
  type StreamPlan,
  newBidRequest,
} from '../sources/source';

const MINUTE_MS = 60_000;

/**
 * A window [fromHour, toHour) of a one-day stream, stretched over a whole simulated day: a
 * recording that covers only part of a day (iPinYou 1458: hours 0..14) becomes a campaign day the
 * core's 24-hour curves fit, without copying the data. Order and spacing of requests are kept;
 * time runs 24 / (toHour - fromHour) times slower.
 */
export function stretchedWindow(inner: StreamFactory, fromHour: number, toHour: number): StreamFactory {
  if (
    !(
      Number.isInteger(fromHour) &&
      Number.isInteger(toHour) &&
      fromHour >= 0 &&
      toHour <= 24 &&
      toHour > fromHour
    )
  )
    throw new RangeError(`window ${fromHour}..${toHour} is not whole hours within 0..24`);
  const startMs = inner.plan.startMs;
  const fromMs = startMs + fromHour * HOUR_MS;
  const toMs = startMs + toHour * HOUR_MS;
  const factor = 24 / (toHour - fromHour);
  const innerPerMinute = inner.plan.expectedPerMinute;
  const perMinute = new Float64Array(1440);
  for (let m = 0; m < 1440; m++) {
    // Minute m of the stretched day covers inner minutes [a, b).
    const a = fromHour * 60 + m / factor;
    const b = fromHour * 60 + (m + 1) / factor;
    let n = 0;
    for (let k = Math.floor(a); k < b; k++)
      n += (innerPerMinute[k] ?? 0) * (Math.min(b, k + 1) - Math.max(a, k));
    perMinute[m] = n;
  }
  const plan: StreamPlan = {
    startMs,
    endMs: startMs + DAY_MS,
    expectedRequests: perMinute.reduce((x, y) => x + y, 0),
    expectedPerMinute: perMinute,
    expectedCostPerRequestMicros: (bid, pricing) => inner.plan.expectedCostPerRequestMicros(bid, pricing),
    surges: [],
  };
  return {
    plan,
    open(seed: number): BidSource {
      const src = inner.open(seed);
      const req: BidRequest = newBidRequest();
      return {
        req,
        next(): boolean {
          for (;;) {
            if (!src.next()) return false;
            const t = src.req.timeMs;
            if (t < fromMs) continue;
            if (t >= toMs) return false;
            req.timeMs = startMs + (t - fromMs) * factor;
            req.click = src.req.click;
            return true;
          }
        },
        fill(): void {
          src.fill?.();
          req.marketPriceCpmMicros = src.req.marketPriceCpmMicros;
          req.pctr = src.req.pctr;
        },
      };
    },
  };
}

export { MINUTE_MS };
