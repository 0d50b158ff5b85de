import type { Decision } from '../core/index';
import { MINUTES_PER_DAY } from './algorithmRun';
import type { Fleet } from './fleet';
import { SimInvariantError, stateProblem } from './invariants';

/**
 * What a run measures: tallies per campaign-day and per minute, filled as events happen, and a
 * sample of the fleet at each minute's end. Arrays are indexed `c * days + day` and
 * `c * minutes + minute`.
 */
export class Recorder {
  readonly candidates: Float64Array;
  readonly bids: Float64Array;
  readonly throttled: Float64Array;
  readonly wins: Float64Array;
  readonly clicks: Float64Array;
  readonly spendMicros: Float64Array;
  readonly breakerTrips: Float64Array;
  readonly openMinutes: Float64Array;
  readonly outageDecisions: Float64Array;
  readonly outageSpendMicros: Float64Array;
  readonly reservationLostSpendMicros: Float64Array;
  readonly spendAfterRunMicros: Float64Array;
  readonly spendPerMinute: Float64Array;
  readonly throttlePerMinute: Float32Array;
  readonly requestsPerMinute: Float64Array;
  readonly meanThrottlePerMinute: Float64Array;
  readonly breakerOpenPerMinute: Float64Array;
  readonly breakerHalfOpenPerMinute: Float64Array;
  readonly degradedInstancesPerMinute: Float64Array;
  /** Throttle rate of each campaign's last decision. */
  private readonly lastThrottle: Float64Array;
  private readonly tripsAtDayStart: Float64Array;
  requests = 0;
  decisions = 0;
  degradedDecisions = 0;
  leaseDenials = 0;
  viewLagMicros = 0;
  viewLagSamples = 0;

  constructor(
    private readonly nC: number,
    readonly days: number,
    readonly minutes: number,
  ) {
    const cd = nC * days;
    this.candidates = new Float64Array(cd);
    this.bids = new Float64Array(cd);
    this.throttled = new Float64Array(cd);
    this.wins = new Float64Array(cd);
    this.clicks = new Float64Array(cd);
    this.spendMicros = new Float64Array(cd);
    this.breakerTrips = new Float64Array(cd);
    this.openMinutes = new Float64Array(cd);
    this.outageDecisions = new Float64Array(cd);
    this.outageSpendMicros = new Float64Array(cd);
    this.reservationLostSpendMicros = new Float64Array(cd);
    this.spendAfterRunMicros = new Float64Array(nC);
    this.spendPerMinute = new Float64Array(nC * minutes);
    this.throttlePerMinute = new Float32Array(nC * minutes);
    this.requestsPerMinute = new Float64Array(minutes);
    this.meanThrottlePerMinute = new Float64Array(minutes);
    this.breakerOpenPerMinute = new Float64Array(minutes);
    this.breakerHalfOpenPerMinute = new Float64Array(minutes);
    this.degradedInstancesPerMinute = new Float64Array(minutes);
    this.lastThrottle = new Float64Array(nC);
    this.tripsAtDayStart = new Float64Array(nC);
  }

  /** A request arrived in `minute`; returns its number (1-based). */
  noteRequest(minute: number): number {
    this.requestsPerMinute[minute] = this.requestsPerMinute[minute]! + 1;
    return ++this.requests;
  }

  /** One candidate's decision, on campaign-day `cdk`. */
  noteDecision(c: number, cdk: number, d: Decision, degraded: boolean, inOutage: boolean): void {
    this.decisions++;
    this.candidates[cdk] = this.candidates[cdk]! + 1;
    this.lastThrottle[c] = d.throttleRate;
    if (degraded) this.degradedDecisions++;
    if (inOutage) this.outageDecisions[cdk] = this.outageDecisions[cdk]! + 1;
    if (d.allow) this.bids[cdk] = this.bids[cdk]! + 1;
    else if (d.reason === 'throttled') this.throttled[cdk] = this.throttled[cdk]! + 1;
    else if (d.reason === 'lease_exhausted') this.leaseDenials++;
  }

  noteWin(cdk: number, clicked: number): void {
    this.wins[cdk] = this.wins[cdk]! + 1;
    this.clicks[cdk] = this.clicks[cdk]! + clicked;
  }

  /** Adds (or, with sign -1, takes back) booked spend in the per-campaign-day and per-minute tallies. */
  tally(c: number, minute: number, spend: number, sign: number): void {
    if (minute >= this.minutes) {
      this.spendAfterRunMicros[c] = this.spendAfterRunMicros[c]! + sign * spend;
      return;
    }
    const k = c * this.days + Math.floor(minute / MINUTES_PER_DAY);
    this.spendMicros[k] = this.spendMicros[k]! + sign * spend;
    const m = c * this.minutes + minute;
    this.spendPerMinute[m] = this.spendPerMinute[m]! + sign * spend;
  }

  /** A win notice booked in `minute`, during a store outage or not. */
  noteArrival(c: number, minute: number, spend: number, inOutage: boolean): void {
    this.tally(c, minute, spend, 1);
    if (inOutage && minute < this.minutes) {
      const k = c * this.days + Math.floor(minute / MINUTES_PER_DAY);
      this.outageSpendMicros[k] = this.outageSpendMicros[k]! + spend;
    }
  }

  /** Spend booked where its reservation no longer existed (the instance that reserved crashed). */
  noteReservationLost(c: number, minute: number, spend: number): void {
    if (minute >= this.minutes) return;
    const k = c * this.days + Math.floor(minute / MINUTES_PER_DAY);
    this.reservationLostSpendMicros[k] = this.reservationLostSpendMicros[k]! + spend;
  }

  /** The fleet at the end of `minute`: throttles, breakers, degraded instances, view lag. */
  sampleMinute(minute: number, fleet: Fleet, nowMs: number): void {
    const nC = this.nC;
    const nI = fleet.count;
    const day = Math.floor(minute / MINUTES_PER_DAY);
    let throttleSum = 0;
    let open = 0;
    let halfOpen = 0;
    for (let c = 0; c < nC; c++) {
      const th = this.lastThrottle[c]!;
      this.throttlePerMinute[c * this.minutes + minute] = th;
      throttleSum += th;
      let openHere = 0;
      const madeToday = this.spendMicros[c * this.days + day]!;
      for (let i = 0; i < nI; i++) {
        if (fleet.up[i] === 0) continue;
        const s = fleet.states[i]![c]!;
        // Only campaigns the instance is pacing right now: an idle one is not synced, by design.
        if (s.touched) {
          const seen = s.ledger.ownDaySpentMicros + s.ledger.peerDaySpentMicros;
          this.viewLagMicros += seen > madeToday ? seen - madeToday : madeToday - seen;
          this.viewLagSamples++;
        }
        const st = s.breaker.state;
        if (st === 'OPEN') openHere++;
        else if (st === 'HALF_OPEN') halfOpen++;
        const problem = stateProblem(s);
        if (problem !== null) throw new SimInvariantError(`${problem} at ${new Date(nowMs).toISOString()}`);
      }
      open += openHere;
      const k = c * this.days + day;
      this.openMinutes[k] = this.openMinutes[k]! + openHere / nI;
    }
    this.meanThrottlePerMinute[minute] = nC > 0 ? throttleSum / nC : 0;
    this.breakerOpenPerMinute[minute] = open;
    this.breakerHalfOpenPerMinute[minute] = halfOpen;
    let degraded = 0;
    for (let i = 0; i < nI; i++) if (fleet.up[i] === 1 && fleet.instances[i]!.degraded) degraded++;
    this.degradedInstancesPerMinute[minute] = degraded;
    if ((minute + 1) % MINUTES_PER_DAY === 0) this.closeDay((minute + 1) / MINUTES_PER_DAY - 1, fleet);
  }

  /** Breaker trips of day `d`, per campaign. */
  private closeDay(d: number, fleet: Fleet): void {
    for (let c = 0; c < this.nC; c++) {
      const trips = fleet.tripsOf(c);
      this.breakerTrips[c * this.days + d] = trips - this.tripsAtDayStart[c]!;
      this.tripsAtDayStart[c] = trips;
    }
  }
}
