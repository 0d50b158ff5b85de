import type { Decision } from '../core/index';
import type { Fleet } from './fleet';
import { SimInvariantError, stateProblem } from './invariants';
import type { RunDays } from './localDays';

/**
 * What a run measures: tallies per campaign-day and per minute, filled as events happen, and a
 * sample of the fleet at each minute's end. Arrays are indexed `c * days + day` and
 * `c * minutes + minute`; `day` is the campaign's local day (its time zone's midnight to midnight).
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

  private readonly nC: number;

  constructor(
    /** Each campaign's local days on the run's minute grid. */
    private readonly localDays: readonly RunDays[],
    readonly days: number,
    readonly minutes: number,
  ) {
    const nC = localDays.length;
    this.nC = nC;
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

  /** Campaign-day index of campaign `c` at `minute` of the run; -1 outside the campaign's days. */
  campaignDayIndex(c: number, minute: number): number {
    const d = this.localDays[c]!.dayOfMinute[minute];
    return d !== undefined && d >= 0 && d < this.days ? c * this.days + d : -1;
  }

  /**
   * Campaign-day index of spend booked for campaign `c` in `minute`, or -1 when it lands after
   * the campaign's last day (late notices: kept out of the scores, counted as after the run).
   */
  private spendDayIndex(c: number, minute: number): number {
    const d = minute < this.minutes ? this.localDays[c]!.dayOfMinute[minute]! : this.days;
    // No bid is allowed outside the campaign's flight, which is its local days.
    if (d < 0) throw new SimInvariantError(`spend of campaign ${c} booked before its first local day`);
    return d < this.days ? c * this.days + d : -1;
  }

  /** A request arrived in `minute`; returns its number (1-based). */
  noteRequest(minute: number): number {
    this.requestsPerMinute[minute] = this.requestsPerMinute[minute]! + 1;
    return ++this.requests;
  }

  /** One candidate's decision, on campaign-day `cdk`. */
  noteDecision(c: number, cdk: number, d: Decision, degraded: boolean, inOutage: boolean): void {
    this.decisions++;
    this.lastThrottle[c] = d.throttleRate;
    if (degraded) this.degradedDecisions++;
    // Outside its local days a campaign is out of flight: no campaign-day to count it in.
    if (cdk < 0) return;
    this.candidates[cdk] = this.candidates[cdk]! + 1;
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
    const k = this.spendDayIndex(c, minute);
    if (k < 0) {
      this.spendAfterRunMicros[c] = this.spendAfterRunMicros[c]! + sign * spend;
      return;
    }
    this.spendMicros[k] = this.spendMicros[k]! + sign * spend;
    const m = c * this.minutes + minute;
    this.spendPerMinute[m] = this.spendPerMinute[m]! + sign * spend;
  }

  /** A win notice booked in `minute`, during a store outage or not. */
  noteArrival(c: number, minute: number, spend: number, inOutage: boolean): void {
    this.tally(c, minute, spend, 1);
    const k = inOutage ? this.spendDayIndex(c, minute) : -1;
    if (k >= 0) {
      this.outageSpendMicros[k] = this.outageSpendMicros[k]! + spend;
    }
  }

  /** Spend booked where its reservation no longer existed (the instance that reserved crashed). */
  noteReservationLost(c: number, minute: number, spend: number): void {
    const k = this.spendDayIndex(c, minute);
    if (k < 0) return;
    this.reservationLostSpendMicros[k] = this.reservationLostSpendMicros[k]! + spend;
  }

  /** The fleet at the end of `minute`: throttles, breakers, degraded instances, view lag. */
  sampleMinute(minute: number, fleet: Fleet, nowMs: number): void {
    const nC = this.nC;
    const nI = fleet.count;
    let throttleSum = 0;
    let open = 0;
    let halfOpen = 0;
    for (let c = 0; c < nC; c++) {
      const th = this.lastThrottle[c]!;
      this.throttlePerMinute[c * this.minutes + minute] = th;
      throttleSum += th;
      let openHere = 0;
      // The campaign's own local day; outside its days it is out of flight and not measured.
      const days = this.localDays[c]!;
      const day = days.dayOfMinute[minute]!;
      const inDays = day >= 0 && day < this.days;
      const k = c * this.days + day;
      const madeToday = inDays ? this.spendMicros[k]! : 0;
      for (let i = 0; i < nI; i++) {
        if (fleet.up[i] === 0) continue;
        const s = fleet.states[i]![c]!;
        // Only campaigns the instance is pacing right now: an idle one is not synced, by design.
        if (s.touched && inDays) {
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
      if (!inDays) continue;
      this.openMinutes[k] = this.openMinutes[k]! + openHere / nI;
      if (minute + 1 === days.boundaryMinutes[day + 1]) this.closeDay(c, day, fleet);
    }
    this.meanThrottlePerMinute[minute] = nC > 0 ? throttleSum / nC : 0;
    this.breakerOpenPerMinute[minute] = open;
    this.breakerHalfOpenPerMinute[minute] = halfOpen;
    let degraded = 0;
    for (let i = 0; i < nI; i++) if (fleet.up[i] === 1 && fleet.instances[i]!.degraded) degraded++;
    this.degradedInstancesPerMinute[minute] = degraded;
  }

  /** Breaker trips of campaign `c` on its local day `d`, at that day's last minute. */
  private closeDay(c: number, d: number, fleet: Fleet): void {
    const trips = fleet.tripsOf(c);
    this.breakerTrips[c * this.days + d] = trips - this.tripsAtDayStart[c]!;
    this.tripsAtDayStart[c] = trips;
  }
}
