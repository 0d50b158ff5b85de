/**
 * The fastest any simulator built on this core could run a day: the stream, its candidate draws,
 * the request's price and pctr, decide() for every candidate on a plain PacingState (one
 * unleased instance, as friday.yaml runs), the auction, and the winner's spend booked at once by
 * recordSpend() (losers release). No event queue, win-notice delays, store, sync rounds,
 * recorder or invariant checks: what is left is the work the simulator cannot skip without
 * deciding fewer requests than the server would.
 */
import {
  type PacingState,
  createPacingState,
  decide,
  impressionCostMicros,
  newDecision,
  recordSpend,
  releaseBid,
} from '../core/index';
import { pacedCampaign } from '../sim/campaigns';
import { AliasTable, PoissonTable, randStream } from '../sim/random';
import type { World } from '../sim/world';

export interface CoreOnlyDay {
  readonly requests: number;
  readonly decisions: number;
  readonly wins: number;
  readonly spendMicros: number;
}

export function coreOnlyDay(world: World): CoreOnlyDay {
  const mode = 'EVEN' as const;
  const sc = world.scenario;
  const states: PacingState[] = world.campaigns.map((c) =>
    createPacingState(pacedCampaign(c, mode, world.days), world.config, world.startMs),
  );
  const src = world.stream.open(world.seed);
  const req = src.req;
  const candRand = randStream(world.seed, 'candidates');
  const throttleRand = randStream(world.seed, `throttle/${mode}`);
  const lambdas = world.campaigns.map((c) => -Math.log(1 - c.participation));
  const count = new PoissonTable(lambdas.reduce((a, b) => a + b, 0));
  const pick = new AliasTable(lambdas);
  const bidCpm = Float64Array.from(world.campaigns, (c) => c.bidCpmMicros);
  const valueAware = sc.bidding.valueSignal === 'pctr';
  const seenAt = new Float64Array(states.length).fill(-1);
  const cand = new Int32Array(states.length);
  const allowedC = new Int32Array(states.length);
  const allowedRes = new Float64Array(states.length);
  const out = newDecision();
  let requests = 0;
  let decisions = 0;
  let wins = 0;
  let spendMicros = 0;
  while (src.next()) {
    const k = count.sample(candRand());
    let n = 0;
    for (let j = 0; j < k; j++) {
      const c = pick.sample(candRand(), candRand());
      if (seenAt[c] === requests) continue;
      seenAt[c] = requests;
      cand[n++] = c;
    }
    requests++;
    if (n === 0) continue;
    src.fill();
    const t = req.timeMs;
    const value = valueAware ? req.pctr : -1;
    let nAllowed = 0;
    let best = -1;
    let bestBid = 0;
    let secondBid = 0;
    for (let j = 0; j < n; j++) {
      const c = cand[j]!;
      const d = decide(states[c]!, bidCpm[c]!, t, throttleRand, false, out, value);
      decisions++;
      if (!d.allow) continue;
      const b = d.maxBidCpmMicros;
      allowedC[nAllowed] = c;
      allowedRes[nAllowed] = d.reservedMicros;
      if (b > bestBid) {
        secondBid = bestBid;
        bestBid = b;
        best = nAllowed;
      } else if (b > secondBid) secondBid = b;
      nAllowed++;
    }
    const price = req.marketPriceCpmMicros;
    const won = nAllowed > 0 && bestBid >= price;
    for (let j = 0; j < nAllowed; j++) {
      const s = states[allowedC[j]!]!;
      if (!won || j !== best) {
        releaseBid(s, allowedRes[j]!, t, t);
        continue;
      }
      const charge = impressionCostMicros(price > secondBid ? price : secondBid);
      recordSpend(s, charge, t, allowedRes[j]!, t);
      wins++;
      spendMicros += charge;
    }
  }
  return { requests, decisions, wins, spendMicros };
}
