import {
  type Campaign,
  type Decision,
  type PacerInstance,
  type PacingMode,
  type PacingState,
  impressionCostMicros,
  newDecision,
} from '../core/index';
import { SimInvariantError } from './invariants';
import { AliasTable, PoissonTable, type Rand, randStream } from './random';
import type { Recorder } from './recorder';
import type { BidSource } from './sources/source';
import type { TargetingFilter } from './targeting';
import type { World } from './world';

/**
 * The market one request meets: which campaigns are candidates for it, what each bids, and the
 * auction among the bids the pacer allows against the market price (second price by default).
 * Draws that depend on the stream only (candidates) are the same for every algorithm; the
 * throttle and click draws depend on the decisions.
 */
export class Market {
  /** Outcome of the last auction, read by the engine when `run` returned true. */
  winner = -1;
  chargeMicros = 0;
  reservedMicros = 0;
  /** Wins whose price was a recorded win's (pacer-log replay), for the summary. */
  winsAtRecordedPrice = 0;
  clicked = 0;
  /** Campaigns decided for the last request, and those allowed to bid (with their reservations). */
  readonly decidedC: Int32Array;
  decided = 0;
  readonly allowedC: Int32Array;
  allowed = 0;
  private readonly allowedRes: Float64Array;

  private readonly candRand: Rand;
  private readonly throttleRand: Rand;
  private readonly clickRand: Rand;
  private readonly candidateCount: PoissonTable;
  private readonly candidatePick: AliasTable;
  /** Request number at which each campaign was last drawn: a campaign bids once per request. */
  private readonly seenAt: Float64Array;
  private readonly bidCpm: Float64Array;
  private readonly linearCtr: boolean;
  /** The request's pctr goes to decide() as its value signal: a throttled campaign passes its best requests. */
  private readonly valueAware: boolean;
  /** pctr is needed before deciding (linear bids or the value signal), not only for the winner. */
  private readonly fillFirst: boolean;
  private readonly baseCtr: number;
  private readonly firstPrice: boolean;
  /** Every campaign is a candidate for every request (a marketplace), in campaign order. */
  private readonly allCompete: boolean;
  private readonly out: Decision = newDecision();

  constructor(
    world: World,
    mode: PacingMode,
    private readonly campaigns: readonly Campaign[],
    private readonly source: BidSource,
    private readonly rec: Recorder,
    /** The scenario's targeting: a campaign that does not match a request is not its candidate. */
    private readonly targeting: TargetingFilter | null = null,
  ) {
    const seed = world.seed;
    const sc = world.scenario;
    const nC = world.campaigns.length;
    this.candRand = randStream(seed, 'candidates');
    this.throttleRand = randStream(seed, `throttle/${mode}`);
    this.clickRand = randStream(seed, `click/${mode}`);
    this.allCompete = sc.market.candidates === 'all';
    // Independent Bernoulli(p_c) candidacy, exactly, from one Poisson count: campaign c is drawn
    // Poisson(-ln(1 - p_c)) times, so it appears at least once with probability p_c.
    const lambdas = world.campaigns.map((c) => (this.allCompete ? 1 : -Math.log(1 - c.participation)));
    this.candidateCount = new PoissonTable(lambdas.reduce((a, b) => a + b, 0));
    this.candidatePick = new AliasTable(lambdas);
    this.seenAt = new Float64Array(nC).fill(-1);
    this.bidCpm = Float64Array.from(world.campaigns, (c) => c.bidCpmMicros);
    this.linearCtr = sc.bidding.kind === 'linear_ctr';
    this.valueAware = sc.bidding.valueSignal === 'pctr';
    this.fillFirst = this.linearCtr || this.valueAware;
    this.baseCtr = sc.bidding.baseCtr;
    this.firstPrice = sc.market.pricing === 'first';
    this.decidedC = new Int32Array(nC);
    if (this.allCompete) for (let c = 0; c < nC; c++) this.decidedC[c] = c;
    this.allowedC = new Int32Array(nC);
    this.allowedRes = new Float64Array(nC);
  }

  /**
   * Request number `requestNo` at time `t`, decided by `pacer` on its `states`: draws the
   * candidates, asks the pacer for each, runs the auction and releases the losers' reservations.
   * True when one of them won; the winner and its charge are then in this object's fields.
   */
  run(
    pacer: PacerInstance,
    states: readonly PacingState[],
    t: number,
    requestNo: number,
    minute: number,
    inOutage: boolean,
  ): boolean {
    const rec = this.rec;
    const req = this.source.req;
    const degraded = pacer.degraded;
    const out = this.out;
    this.winner = -1;
    this.chargeMicros = 0;
    this.reservedMicros = 0;
    this.allowed = 0;
    const n =
      req.campaign >= 0
        ? this.askOne(req.campaign)
        : this.allCompete
          ? this.decidedC.length
          : this.drawCandidates(requestNo);
    this.decided = n;
    const targeting = this.targeting;
    targeting?.prepare(requestNo, t);
    if (this.fillFirst && n > 0) this.source.fill();
    const value = !this.valueAware ? -1 : req.campaign >= 0 ? req.value : req.pctr;
    const decidedC = this.decidedC;
    let nAllowed = 0;
    let best = -1;
    let bestBid = 0;
    let secondBid = 0;
    for (let j = 0; j < n; j++) {
      const c = decidedC[j]!;
      if (targeting !== null && !targeting.allows(c)) continue;
      let bid = req.bidCpmMicros >= 0 ? req.bidCpmMicros : this.bidCpm[c]!;
      // A recorded bid is what the bidder asked already; only the scenario's own bid scales with pctr.
      if (this.linearCtr && req.bidCpmMicros < 0) {
        bid = Math.round((bid * req.pctr) / this.baseCtr);
        if (bid < 1) bid = 1;
      }
      // Through the instance, as the server decides: it notes which campaigns its next sync visits.
      const d = pacer.decideState(states[c]!, bid, t, this.throttleRand, out, value);
      const th = d.throttleRate;
      if (!(th >= 0 && th <= 1))
        throw new SimInvariantError(`throttle ${th} outside [0, 1] for ${this.campaigns[c]!.id}`);
      rec.noteDecision(c, rec.campaignDayIndex(c, minute), d, degraded, inOutage);
      if (!d.allow) continue;
      const b = d.maxBidCpmMicros;
      this.allowedC[nAllowed] = c;
      this.allowedRes[nAllowed] = d.reservedMicros;
      if (b > bestBid) {
        secondBid = bestBid;
        bestBid = b;
        best = nAllowed;
      } else if (b > secondBid) {
        secondBid = b;
      }
      nAllowed++;
    }
    this.allowed = nAllowed;
    if (nAllowed === 0) return false;
    if (!this.fillFirst) this.source.fill();
    const price = req.marketPriceCpmMicros;
    const won = bestBid >= price;
    for (let j = 0; j < nAllowed; j++) {
      if (won && j === best) continue;
      pacer.releaseBidState(states[this.allowedC[j]!]!, this.allowedRes[j]!, t, t);
    }
    if (!won) return false;
    const c = this.allowedC[best]!;
    const chargeCpm = this.firstPrice ? bestBid : price > secondBid ? price : secondBid;
    this.winner = c;
    this.chargeMicros = impressionCostMicros(chargeCpm);
    this.reservedMicros = this.allowedRes[best]!;
    if (req.recordedPrice) this.winsAtRecordedPrice++;
    this.clicked = req.click >= 0 ? req.click : this.clickRand() < req.pctr ? 1 : 0;
    rec.noteWin(rec.campaignDayIndex(c, minute), this.clicked);
    return true;
  }

  /** A recorded decision asked about one campaign: it is the only candidate. */
  private askOne(c: number): number {
    this.decidedC[0] = c;
    return 1;
  }

  /**
   * Draws request `requestNo`'s candidates into `decidedC`, each once, in the order drawn; returns
   * how many. Only the candidate stream is drawn from, so doing this before the decisions (which
   * draw from the throttle stream) changes no draw.
   */
  private drawCandidates(requestNo: number): number {
    const k = this.candidateCount.sample(this.candRand());
    let n = 0;
    for (let j = 0; j < k; j++) {
      const c = this.candidatePick.sample(this.candRand(), this.candRand());
      if (this.seenAt[c] === requestNo) continue;
      this.seenAt[c] = requestNo;
      this.decidedC[n++] = c;
    }
    return n;
  }
}
